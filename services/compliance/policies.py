"""An organization's gate policy (its compliance settings) read from its settings row."""

from __future__ import annotations

import asyncpg
import msgspec

from proto.events.compliance import FrequencyCap
from services.compliance.frequency import Cap
from services.compliance.model import Policy

_CAPS = msgspec.json.Decoder(list[FrequencyCap])


def caps_of(raw: str | None) -> tuple[Cap, ...]:
    return tuple(Cap(c.category, c.max, c.window_hours) for c in _CAPS.decode(raw or "[]"))


_POLICY_FIELDS = ("quiet_hours_enabled", "quiet_hours_action", "conversation_window_enabled",
                  "conversation_window_hours", "double_opt_in_expiry_hours", "help_reply", "opt_out_reply",
                  "opt_in_reply", "frequency_caps", "frequency_cap_action")
_POLICIES: dict[tuple[object, ...], Policy] = {}
"""Policies (immutable) by the settings they were built from: one per organization's settings, not one per
decision with its caps decoded again."""


def policy_of(row: asyncpg.Record | None, defaults: Policy) -> Policy:
    if row is None or row["quiet_hours_enabled"] is None:
        return defaults
    key = tuple(row[c] for c in _POLICY_FIELDS)
    policy = _POLICIES.get(key)
    if policy is None:
        if len(_POLICIES) >= 10_000:
            _POLICIES.clear()
        policy = _POLICIES[key] = Policy(
            quiet_hours_enabled=row["quiet_hours_enabled"], quiet_hours_action=row["quiet_hours_action"],
            conversation_window_enabled=row["conversation_window_enabled"],
            conversation_window_hours=row["conversation_window_hours"],
            double_opt_in_expiry_hours=row["double_opt_in_expiry_hours"], help_reply=row["help_reply"],
            opt_out_reply=row["opt_out_reply"], opt_in_reply=row["opt_in_reply"],
            frequency_caps=caps_of(row["frequency_caps"]), frequency_cap_action=row["frequency_cap_action"])
    return policy


_POLICY_COLS = ", ".join(f"{c}::text" if c == "frequency_caps" else c for c in _POLICY_FIELDS)


async def load_policy(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, defaults: Policy) -> tuple[Policy, int]:
    row = await conn.fetchrow(f"SELECT version, updated_at, {_POLICY_COLS} FROM org_settings WHERE org_id = $1",
                              org_id)
    return policy_of(row, defaults), (row["version"] if row else 0)
