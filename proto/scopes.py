"""API-key scopes and their presets: the names a key is created with and every route declares."""

from __future__ import annotations

from typing import Literal

Scope = Literal["messages:send", "messages:read", "numbers:read", "numbers:write", "compliance:read",
                "compliance:write", "keys:write", "billing:read"]

SCOPES: tuple[str, ...] = ("messages:send", "messages:read", "numbers:read", "numbers:write", "compliance:read",
                           "compliance:write", "keys:write", "billing:read")

PRESETS: dict[str, tuple[str, ...]] = {
    "full": SCOPES,
    "send-only": ("messages:send", "messages:read", "numbers:read", "compliance:read"),
    "read-only": ("messages:read", "numbers:read", "compliance:read", "billing:read"),
}
"""``full``: everything. ``send-only``: send and follow messages (and read the numbers and consent that
sending needs), nothing that changes numbers, consent or keys. ``read-only``: read everything but keys."""

Preset = Literal["full", "send-only", "read-only"]
