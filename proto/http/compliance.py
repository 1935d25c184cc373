"""API bodies: consent (double opt-in, recorded consent, list, export), the compliance check and settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from proto.api import E164, RFC3339_PATTERN, UUID, Limit
from proto.base import rfc3339
from proto.commands import compliance as c

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1600)]
ShortText = Annotated[str, msgspec.Meta(max_length=2048)]
Reply = Annotated[str, msgspec.Meta(min_length=1, max_length=480)]

ConsentMethod = Literal["web_form", "paper", "verbal", "keyword", "import", "other"]


class DoubleOptInBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone_number_id: UUID
    """The organization's number the confirmation text is sent from (the id from the order)."""
    contact_number: E164
    confirmation_text: Annotated[str, msgspec.Meta(
        min_length=1, max_length=1600,
        examples=["Reply YES to confirm you want these messages. Reply STOP to opt out, HELP for help."])]


class EvidenceBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    disclosure_text: Annotated[str, msgspec.Meta(
        min_length=1, max_length=5000, description="The exact consent language the contact was shown or read",
        examples=["By checking this box you agree to receive order updates by text from Acme. Reply STOP to "
                  "opt out. Msg & data rates may apply."])]
    source_url: ShortText = ""
    ip: Annotated[str, msgspec.Meta(max_length=64)] = ""
    user_agent: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    captured_at: Annotated[str, msgspec.Meta(max_length=40, pattern=r"^$|" + RFC3339_PATTERN,
                                             description="When consent was given, RFC 3339 with a zone; "
                                                         "empty: now")] = ""


class RecordConsentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    contact_number: E164
    method: ConsentMethod
    evidence: EvidenceBody


class ConsentListQuery(msgspec.Struct, kw_only=True):
    status: Literal["none", "granted", "opted_out"] | None = None
    method: Literal["web_form", "paper", "verbal", "keyword", "import", "other", "double_opt_in"] | None = None
    """How the consent on file was given (a typo is refused, not an empty page)."""
    limit: Limit = 20
    cursor: str | None = None


Time = Annotated[str, msgspec.Meta(max_length=40, pattern=RFC3339_PATTERN, description="RFC 3339 with a zone",
                                    examples=["2026-06-11T00:00:00Z"])]


class ExportQuery(msgspec.Struct, kw_only=True):
    format: Literal["jsonl", "csv"] = "jsonl"
    since: Time | None = None
    """Only entries that occurred at or after this time."""
    until: Time | None = None
    """Only entries that occurred before this time."""


class DecisionsQuery(msgspec.Struct, kw_only=True):
    contact: E164 | None = None
    """Decisions on sends to this contact."""
    outcome: Literal["allow", "deny", "defer"] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=64, examples=["CONSENT_REQUIRED", "QUIET_HOURS"])] | None = None
    """A deny code (CONSENT_REQUIRED, RECIPIENT_OPTED_OUT, QUIET_HOURS, SENDING_NOT_ENABLED, …) or, for a defer,
    the deferring check (QUIET_HOURS)."""
    message_id: UUID | None = None
    since: Time | None = None
    """Decided at or after this time."""
    until: Time | None = None
    """Decided before this time."""
    limit: Limit = 20
    cursor: str | None = None


class DecisionExportQuery(msgspec.Struct, kw_only=True):
    format: Literal["jsonl", "csv"] = "jsonl"
    contact: E164 | None = None
    outcome: Literal["allow", "deny", "defer"] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    since: Time | None = None
    until: Time | None = None


class CheckBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    from_: E164 = msgspec.field(name="from")
    to: E164
    text: Text
    category: Literal["transactional", "marketing", "conversational"] = "conversational"
    on_frequency_cap: Literal["reject", "defer"] | None = None
    """As on POST /v1/messages: what the send would do over a frequency cap."""


class FrequencyCapBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    category: Literal["transactional", "marketing", "conversational"]
    max: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    """At most this many messages of the category to one contact..."""
    window_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)]
    """...in any window of this many hours."""


class SettingsPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    quiet_hours_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    quiet_hours_action: Literal["defer", "reject"] | msgspec.UnsetType = msgspec.UNSET
    conversation_window_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    conversation_window_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] | msgspec.UnsetType = msgspec.UNSET
    double_opt_in_expiry_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] | msgspec.UnsetType = msgspec.UNSET
    help_reply: Reply | msgspec.UnsetType | None = msgspec.UNSET
    """null restores the default (the campaign's message, else ours)."""
    opt_out_reply: Reply | msgspec.UnsetType | None = msgspec.UNSET
    opt_in_reply: Reply | msgspec.UnsetType | None = msgspec.UNSET
    frequency_caps: Annotated[list[FrequencyCapBody], msgspec.Meta(max_length=10)] | msgspec.UnsetType = msgspec.UNSET
    """The organization's own caps per category (replaces the list; [] removes them). The state caps (FL, MD, OK:
    3 marketing messages per 24 h) always apply besides."""
    frequency_cap_action: Literal["reject", "defer"] | msgspec.UnsetType = msgspec.UNSET
    """Over a cap: reject (453 FREQUENCY_CAP) or defer (scheduled to when it is allowed)."""


class SendDecision(msgspec.Struct, kw_only=True):
    decision: Literal["allow", "deny", "defer"]
    code: str | None = None
    """For deny: CONSENT_REQUIRED | RECIPIENT_OPTED_OUT | QUIET_HOURS | FREQUENCY_CAP | SENDING_NOT_ENABLED."""
    reason: str = ""
    """What would make the send legal, in words."""
    status: int = 200
    """HTTP status for a deny: 453 (consent/opt-out/quiet hours reject) or 403 (registration)."""
    defer_until: str | None = None
    checks: list[c.Check] = msgspec.field(default_factory=list)
    decision_id: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    """For FREQUENCY_CAP (deny or defer): ``next_allowed_at`` and the caps that apply."""

    @classmethod
    def of(cls, d: c.SendDecision) -> SendDecision:
        """The gate's answer (``proto.commands.compliance.SendDecision``) as the API shows it."""
        return cls(decision=d.decision, code=d.code, reason=d.reason, status=d.status,
                   defer_until=rfc3339(d.defer_until) if d.defer_until else None, checks=d.checks,
                   decision_id=d.decision_id, details=d.details)
