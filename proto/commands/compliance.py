"""Commands of the compliance domain (am.cmd.compliance.<command>) that other services rely on.

The compliance service may add more commands below (consent CRUD, double opt-in, settings...)."""

from __future__ import annotations

from typing import Literal

import msgspec

from proto.base import Command

SendKind = Literal["standard", "opt_in_request", "opt_out_confirmation", "help_reply", "keyword_reply"]
Category = Literal["transactional", "marketing", "conversational"]


class EvaluateSend(Command, frozen=True, kw_only=True):
    """The gate: may this message go now? Every decision is recorded on the compliance ledger."""

    org_id: str
    message_id: str
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    category: Category = "conversational"
    kind: SendKind = "standard"
    stage: Literal["accept", "submit"] = "accept"
    """accept: when the API call arrives; submit: just before the carrier sees it (final check)."""
    dry_run: bool = False
    """POST /v1/compliance/check: the same decision, not recorded as a send decision."""


class Check(msgspec.Struct, kw_only=True):
    name: str
    """opt_out | consent | quiet_hours | registration"""
    result: Literal["pass", "fail", "defer", "skip"]
    detail: str = ""


class SendDecision(msgspec.Struct, kw_only=True):
    decision: Literal["allow", "deny", "defer"]
    code: str | None = None
    """For deny: CONSENT_REQUIRED | RECIPIENT_OPTED_OUT | QUIET_HOURS | SENDING_NOT_ENABLED."""
    reason: str = ""
    """What would make the send legal, in words."""
    status: int = 200
    """HTTP status for a deny: 453 (consent/opt-out/quiet hours reject) or 403 (registration)."""
    defer_until: str | None = None
    checks: list[Check] = msgspec.field(default_factory=list)
    decision_id: str = ""
