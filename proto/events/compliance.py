"""Events of the compliance domain (stream AM_COMPLIANCE, subjects am.compliance.<aggregate>.<event>.<org_id>).

The consent ledger: one stream per (organization, contact number) holds every consent, opt-out, opt-in,
double opt-in and keyword fact about that contact; send decisions are appended in their own streams.
OptOutRecorded is consumed by outbound (cancel what is still queued for the contact)."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from proto.base import Event, Time, times_upcaster


class _Compliance(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "compliance"


class OptOutRecorded(_Compliance, frozen=True, kw_only=True):
    """A contact revoked consent for the whole organization (STOP and synonyms, a plain-language
    request, or the API). Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    source: str
    """keyword | plain_language | api"""
    matched_rule: str = ""
    inbound_message_id: str = ""
    received_at: Time | None = None
    """When the contact's text reached the carrier (a keyword or plain-language opt-out; None: the API)."""


class ConsentEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """What proves a consent: the disclosure shown, where and how it was captured, and for a double
    opt-in the exact confirmation text sent and the contact's reply (both message ids and times)."""

    disclosure_text: str = ""
    source_url: str = ""
    ip: str = ""
    user_agent: str = ""
    captured_at: Time | None = None
    """When consent was given (the time it was recorded when not given)."""
    phone_number_id: str = ""
    keyword: str = ""
    """The keyword the contact texted, for keyword and double opt-in consents."""
    double_opt_in_id: str = ""
    confirmation_text: str = ""
    confirmation_message_id: str = ""
    confirmation_sent_at: Time | None = None
    reply_message_id: str = ""
    reply_text: str = ""
    reply_received_at: Time | None = None


class ConsentGranted(_Compliance, frozen=True, kw_only=True):
    """A contact's consent to receive the organization's messages was recorded (double opt-in, a form,
    paper, verbal, a keyword). Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    consent_id: str
    method: str
    """double_opt_in | web_form | paper | verbal | keyword | import | other"""
    evidence: ConsentEvidence = msgspec.field(default_factory=ConsentEvidence)
    UPCASTERS = (times_upcaster("evidence.captured_at", "evidence.confirmation_sent_at",  # "" was no time
                                "evidence.reply_received_at"),)


class ConsentRevoked(_Compliance, frozen=True, kw_only=True):
    """A granted consent stopped counting (the contact opted out, or the organization revoked it). The
    consent record stays; this is appended. Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    consent_id: str
    source: str
    """keyword | plain_language | api"""
    reason: str = ""


class OptInRecorded(_Compliance, frozen=True, kw_only=True):
    """A contact texted START / UNSTOP (or YES while opted out): its opt-out no longer applies.
    Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    keyword: str
    inbound_message_id: str = ""
    phone_number_id: str = ""
    received_at: Time | None = None
    """When the contact's text reached the carrier."""


class DoubleOptInRequested(_Compliance, frozen=True, kw_only=True):
    """A double opt-in confirmation text was issued to a contact; a YES / Y / START reply before
    expires_at grants consent. Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    request_id: str
    contact_number: str
    phone_number_id: str
    from_number: str
    confirmation_text: str
    message_id: str
    """The outbound message id of the confirmation text."""
    expires_at: Time


class DoubleOptInExpired(_Compliance, frozen=True, kw_only=True):
    """A pending double opt-in ended without a confirmation (it expired, or its text could not be
    sent). Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    request_id: str
    contact_number: str
    reason: str = "expired"
    """expired | send_failed"""


class HelpRequested(_Compliance, frozen=True, kw_only=True):
    """A contact texted HELP / INFO. Emitted by compliance (the reply, if any, is a ReplyIssued)."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    keyword: str
    inbound_message_id: str = ""
    phone_number_id: str = ""
    answered: bool = True
    """False when the contact is opted out: it gets nothing but its one opt-out confirmation."""


class ReplyIssued(_Compliance, frozen=True, kw_only=True):
    """Compliance handed a reply to outbound (opt-out confirmation, help or opt-in reply) under a
    deterministic message id, so a redelivery never sends it twice. Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "contact"
    contact_number: str
    kind: str
    """opt_out_confirmation | help_reply | keyword_reply"""
    message_id: str
    from_number: str
    text: str
    inbound_message_id: str = ""


class DecisionCheck(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    result: str
    detail: str = ""


class GateDecisionRecorded(_Compliance, frozen=True, kw_only=True):
    """The gate decided on a send: allow, deny (code + reason) or defer (until). Emitted by compliance
    until decisions were recorded in pages (``GateDecisionsRecorded``); kept to read the events written
    before."""

    AGGREGATE: ClassVar[str] = "decision"
    decision_id: str
    message_id: str
    stage: str
    """accept | submit"""
    from_number: str
    contact_number: str
    kind: str
    category: str
    decision: Literal["allow", "deny", "defer"]
    code: str | None = None
    reason: str = ""
    defer_until: Time | None = None
    checks: list[DecisionCheck] = msgspec.field(default_factory=list)


class GateDecision(msgspec.Struct, frozen=True, kw_only=True):
    """One decision of the gate on a send (see ``GateDecisionsRecorded``)."""

    decision_id: str
    message_id: str
    decided_at: Time
    stage: str
    """accept | submit"""
    from_number: str
    contact_number: str
    kind: str
    category: str
    decision: Literal["allow", "deny", "defer"]
    code: str | None = None
    reason: str = ""
    defer_until: Time | None = None
    checks: list[DecisionCheck] = msgspec.field(default_factory=list)


class GateDecisionsRecorded(_Compliance, frozen=True, kw_only=True):
    """A page of the compliance ledger: decisions of the gate (allow, deny with code and reason, defer
    until) for one organization, recorded by one group commit. Every decision that is not a dry run is
    on a page before it is answered; a page holds the decisions that committed together (up to the
    service's decision batch), so the bus carries one event per page, not one per send. Emitted by
    compliance."""

    AGGREGATE: ClassVar[str] = "decision"
    decisions: list[GateDecision]


class FrequencyCap(msgspec.Struct, frozen=True, kw_only=True):
    """At most ``max`` messages of ``category`` to one contact in any ``window_hours``."""

    category: Literal["transactional", "marketing", "conversational"]
    max: int
    window_hours: int


class CompliancePolicyChanged(_Compliance, frozen=True, kw_only=True):
    """An organization changed its compliance settings; the event carries the whole new policy and the
    names of the fields that changed. Emitted by compliance."""

    AGGREGATE: ClassVar[str] = "policy"
    changed: list[str]
    quiet_hours_enabled: bool
    quiet_hours_action: str
    conversation_window_enabled: bool
    conversation_window_hours: int
    double_opt_in_expiry_hours: int
    help_reply: str | None = None
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    frequency_caps: list[FrequencyCap] = msgspec.field(default_factory=list)
    frequency_cap_action: str = "reject"
