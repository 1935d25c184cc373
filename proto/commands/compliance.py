"""Commands of the compliance domain (am.cmd.compliance.<command>) that other services rely on.

The compliance service may add more commands below (consent CRUD, double opt-in, settings...)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from proto.base import Command, ErrorBody, Time, rfc3339
from proto.events import compliance as ev
from proto.events.compliance import FrequencyCap as FrequencyCap  # the settings carry it
from proto.events.inbound import InboundMessageReceived

SendKind = Literal["standard", "opt_in_request", "opt_out_confirmation", "help_reply", "keyword_reply"]
Category = Literal["transactional", "marketing", "conversational"]


class EvaluateSend(Command["SendDecision"], frozen=True, kw_only=True):
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
    send_at: Time | None = None
    """The send's own later time: a frequency cap counts it then."""
    on_frequency_cap: Literal["reject", "defer"] | None = None
    """Over a frequency cap: refuse (FREQUENCY_CAP) or defer to when it is allowed; None: the organization's
    ``frequency_cap_action``."""


class Check(msgspec.Struct, kw_only=True):
    name: str
    """opt_out | consent | quiet_hours | registration"""
    result: Literal["pass", "fail", "defer", "skip"]
    detail: str = ""


class SendDecision(msgspec.Struct, kw_only=True):
    """The gate's answer on the bus (the API shows it as ``proto.http.compliance.SendDecision``)."""

    decision: Literal["allow", "deny", "defer"]
    code: str | None = None
    """For deny: CONSENT_REQUIRED | RECIPIENT_OPTED_OUT | QUIET_HOURS | FREQUENCY_CAP | SENDING_NOT_ENABLED."""
    reason: str = ""
    """What would make the send legal, in words."""
    status: int = 200
    """HTTP status for a deny: 453 (consent/opt-out/quiet hours reject) or 403 (registration)."""
    defer_until: Time | None = None
    checks: list[Check] = msgspec.field(default_factory=list)
    decision_id: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    """For FREQUENCY_CAP (deny or defer): ``next_allowed_at`` (as the API shows it) and the caps that apply."""


class EvaluateSends(Command["SendOutcomes"], frozen=True, kw_only=True):
    """Many ``evaluate_send`` commands in one request (a sender's group commit), each decided and
    recorded on its own."""

    sends: list[EvaluateSend]


class SendOutcome(msgspec.Struct, kw_only=True):
    """One answer of ``evaluate_sends``: the decision, or the error ``evaluate_send`` would raise."""

    decision: SendDecision | None = None
    error: ErrorBody | None = None


class SendOutcomes(msgspec.Struct, kw_only=True):
    results: list[SendOutcome]
    """In the order of the request's ``sends``."""


class ScreenInbound(Command["InboundScreened"], frozen=True, kw_only=True):
    """Inbound, before it makes arriving messages visible (listed, waited for, pushed): record each one's
    effect on the consent ledger — a STOP's opt-out, a YES's consent, a HELP, the contact's last-message
    time — so that once the organization can see a message, the next send is already governed by it
    (read-your-consent). Idempotent per event id (the keyword consumer, reading the same events later,
    only hands the replies to outbound)."""

    messages: list[InboundMessageReceived]
    """In arrival order: a contact's STOP then START is applied in that order."""


class InboundScreened(msgspec.Struct, kw_only=True):
    screened: int
    """How many of the messages had their effect recorded now (the others had it already)."""


# -- consent ledger, double opt-in, settings (used by the gateway) ------------------------------------

ConsentStatus = Literal["none", "granted", "opted_out"]


class ConsentEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """What proves a consent: the disclosure shown, where and how it was captured, and for a double
    opt-in the exact confirmation text sent and the contact's reply (both message ids and times)."""

    disclosure_text: str = ""
    source_url: str = ""
    ip: str = ""
    user_agent: str = ""
    captured_at: str = ""
    """When consent was given: RFC 3339, normalised to UTC (the time it was recorded when not given)."""
    phone_number_id: str = ""
    keyword: str = ""
    """The keyword the contact texted, for keyword and double opt-in consents."""
    double_opt_in_id: str = ""
    confirmation_text: str = ""
    confirmation_message_id: str = ""
    confirmation_sent_at: str = ""
    reply_message_id: str = ""
    reply_text: str = ""
    reply_received_at: str = ""


EvidenceView = ConsentEvidence
"""The API's evidence: the ledger's (``proto.events.compliance.ConsentEvidence``) with its times in the
API's format, ``""`` for none (see :func:`evidence_view`)."""


def evidence_view(e: ev.ConsentEvidence) -> EvidenceView:
    return EvidenceView(
        disclosure_text=e.disclosure_text, source_url=e.source_url, ip=e.ip, user_agent=e.user_agent,
        captured_at=rfc3339(e.captured_at) if e.captured_at else "", phone_number_id=e.phone_number_id,
        keyword=e.keyword, double_opt_in_id=e.double_opt_in_id, confirmation_text=e.confirmation_text,
        confirmation_message_id=e.confirmation_message_id,
        confirmation_sent_at=rfc3339(e.confirmation_sent_at) if e.confirmation_sent_at else "",
        reply_message_id=e.reply_message_id, reply_text=e.reply_text,
        reply_received_at=rfc3339(e.reply_received_at) if e.reply_received_at else "")


class RequestDoubleOptIn(Command["DoubleOptInView"], frozen=True, kw_only=True):
    """Send a double opt-in confirmation text from one of the organization's numbers."""

    org_id: str
    phone_number_id: str
    contact_number: str
    confirmation_text: str
    request_id: str | None = None
    """Caller-chosen id of the request (derived from an Idempotency-Key): repeated, it answers with the
    request it made, and the confirmation text (its message id follows from this id) goes out once."""


class DoubleOptInView(msgspec.Struct, kw_only=True):
    id: str
    status: Literal["pending", "confirmed", "expired", "failed"]
    contact_number: str
    phone_number_id: str
    from_: str = msgspec.field(name="from")
    confirmation_text: str
    message_id: str
    created_at: str
    expires_at: str
    confirmed_at: str | None = None
    send_at: str | None = None
    """When the confirmation text goes out, when quiet hours deferred it (the reply window counts from then)."""


class RecordConsent(Command["ConsentView"], frozen=True, kw_only=True):
    """Record a consent the organization collected (web form, paper, verbal, keyword...)."""

    org_id: str
    contact_number: str
    method: str
    evidence: EvidenceView
    consent_id: str | None = None
    """Caller-chosen consent id (derived from an Idempotency-Key): repeated, the consent is recorded once."""


class ConsentRecordView(msgspec.Struct, kw_only=True):
    id: str
    method: str
    granted_at: str
    evidence: EvidenceView


class ConsentView(msgspec.Struct, kw_only=True):
    contact_number: str
    status: ConsentStatus
    """none: no consent on file; granted: consent on file; opted_out: the contact (or the API) opted out."""
    consent: ConsentRecordView | None = None
    """The consent in force (null when none or opted out)."""
    opted_out_at: str | None = None
    opt_out_source: str | None = None
    opt_out_rule: str | None = None
    last_inbound_at: str | None = None
    """The contact's last message to the organization (the conversation window counts from it)."""
    pending_double_opt_in: DoubleOptInView | None = None
    updated_at: str | None = None


class HistoryEntry(msgspec.Struct, kw_only=True):
    event_id: str
    type: str
    occurred_at: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ConsentDetail(ConsentView, kw_only=True):
    history: list[HistoryEntry] = msgspec.field(default_factory=list)
    """Every ledger entry for this contact, oldest first (revocations are appended, never deleted)."""


class GetConsent(Command[ConsentDetail], frozen=True, kw_only=True):
    org_id: str
    contact_number: str


class ListConsent(Command["ConsentPage"], frozen=True, kw_only=True):
    org_id: str
    status: ConsentStatus | None = None
    method: str | None = None
    limit: int = 20
    cursor: str | None = None


class ConsentPage(msgspec.Struct, kw_only=True):
    data: list[ConsentView]
    next_cursor: str | None = None


class RevokeConsent(Command[ConsentView], frozen=True, kw_only=True):
    """Revoke a contact's consent from the API: an appended opt-out (source api), never a delete."""

    org_id: str
    contact_number: str
    reason: str = ""


class ExportConsent(Command["ExportPage"], frozen=True, kw_only=True):
    """One page of the organization's consent ledger, in ledger order, for a streamed audit export."""

    org_id: str
    after: int = 0
    limit: int = 500
    since: str | None = None
    """Only entries that occurred at or after this time (RFC 3339)."""
    until: str | None = None
    """Only entries that occurred before this time (RFC 3339)."""


# -- the audit of gate decisions -------------------------------------------------------------------------

Outcome = Literal["allow", "deny", "defer"]


class ListDecisions(Command["DecisionPage"], frozen=True, kw_only=True):
    """The organization's gate decisions, newest first (``ascending``: oldest first, for the export),
    filtered, keyset-paginated on (decided_at, id)."""

    org_id: str
    contact: str | None = None
    outcome: Outcome | None = None
    reason: str | None = None
    """A deny code (CONSENT_REQUIRED, RECIPIENT_OPTED_OUT, QUIET_HOURS, SENDING_NOT_ENABLED, …) or, for a
    defer, the deferring check in upper case (QUIET_HOURS)."""
    message_id: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 20
    cursor: str | None = None
    ascending: bool = False


class DecisionView(msgspec.Struct, kw_only=True):
    """One decision of the gate, with every check it made and the check's reason."""

    id: str
    decided_at: str
    message_id: str
    stage: str
    """accept (when the API call arrived) | submit (the final check before the carrier)"""
    from_: str = msgspec.field(name="from")
    contact_number: str
    kind: str
    category: str
    outcome: Outcome
    code: str | None = None
    """For deny: the error code the send got."""
    reason_code: str | None = None
    """What the decision is filtered by as its reason: the deny code, or the deferring check (QUIET_HOURS)."""
    reason: str = ""
    defer_until: str | None = None
    checks: list[Check] = msgspec.field(default_factory=list)


class DecisionPage(msgspec.Struct, kw_only=True):
    data: list[DecisionView]
    next_cursor: str | None = None


class LedgerRow(msgspec.Struct, kw_only=True):
    position: int
    event_id: str
    type: str
    occurred_at: str
    contact_number: str
    method: str = ""
    source: str = ""
    matched_rule: str = ""
    keyword: str = ""
    evidence: EvidenceView | None = None
    """For ConsentGranted: the disclosure shown, source, IP, user agent, and a double opt-in's texts and ids."""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    """The entry's other fields (consent_id, request_id, reason, message_id, text...)."""


class ExportPage(msgspec.Struct, kw_only=True):
    rows: list[LedgerRow]
    next_after: int | None = None


class GetSettings(Command["ComplianceSettings"], frozen=True, kw_only=True):
    org_id: str


class UpdateSettings(Command["ComplianceSettings"], frozen=True, kw_only=True):
    org_id: str
    quiet_hours_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    quiet_hours_action: Literal["defer", "reject"] | msgspec.UnsetType = msgspec.UNSET
    conversation_window_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    conversation_window_hours: int | msgspec.UnsetType = msgspec.UNSET
    double_opt_in_expiry_hours: int | msgspec.UnsetType = msgspec.UNSET
    help_reply: str | msgspec.UnsetType | None = msgspec.UNSET
    opt_out_reply: str | msgspec.UnsetType | None = msgspec.UNSET
    opt_in_reply: str | msgspec.UnsetType | None = msgspec.UNSET
    frequency_caps: list[FrequencyCap] | msgspec.UnsetType = msgspec.UNSET
    frequency_cap_action: Literal["reject", "defer"] | msgspec.UnsetType = msgspec.UNSET


class ComplianceSettings(msgspec.Struct, kw_only=True):
    quiet_hours_enabled: bool
    """Quiet hours (federal 8am-9pm recipient time and the stricter state windows) apply to non-transactional sends."""
    quiet_hours_action: Literal["defer", "reject"]
    """defer: accepted as scheduled and sent when the window opens; reject: 453 QUIET_HOURS."""
    conversation_window_enabled: bool
    """Replies within the window after the contact's last message need no recorded consent."""
    conversation_window_hours: int
    double_opt_in_expiry_hours: int
    help_reply: str | None = None
    """Custom reply to HELP / INFO (else the campaign's help message, else a default)."""
    opt_out_reply: str | None = None
    """Custom confirmation of an opt-out (else the campaign's opt-out message, else a default)."""
    opt_in_reply: str | None = None
    """Custom confirmation of an opt-in (START, or YES to a double opt-in)."""
    frequency_caps: list[FrequencyCap] = msgspec.field(default_factory=list)
    """The organization's own caps per category; the state caps (FL, MD, OK: 3 marketing messages per 24 h)
    always apply besides."""
    frequency_cap_action: Literal["reject", "defer"] = "reject"
    """Over a cap: reject (453 FREQUENCY_CAP with next_allowed_at) or defer (scheduled to then); a send may
    ask for either with ``on_frequency_cap``."""
    updated_at: str | None = None
