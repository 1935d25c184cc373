"""Events of the outbound domain (stream AM_OUTBOUND, subjects am.outbound.message.<event>.<org_id>).

One aggregate, ``message`` (stream ``message-<id>``): a message's lifecycle
``queued`` → ``sending`` → ``sent`` → ``delivered`` | ``undelivered``, ``failed`` before the carrier,
``scheduled`` (send_at, quiet hours) and ``canceled`` (an opt-out landed first, the organization canceled
it, or its number was released). MessageSent,
MessageFailed and MessageCanceled are consumed by accounts (credit capture / refund)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from proto.base import ErrorBody, Event, Time, times_upcaster

_FACTS_UPCASTER = times_upcaster("facts.expires_at")
"""``expires_at`` was ``""`` for no time before times were datetimes."""


class _Outbound(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "outbound"
    AGGREGATE: ClassVar[str] = "message"


class MessageFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the message is, fixed when it is accepted (rides on the first event of its stream)."""

    from_: str = msgspec.field(name="from")
    to: str
    text: str
    segments: int
    encoding: str
    """GSM-7 | UCS-2"""
    price_micros: int
    category: str = "conversational"
    kind: str = "standard"
    phone_number_id: str = ""
    campaign_id: str = ""
    throughput_mpm: int = 0
    status_callback_url: str | None = None
    send_at: Time | None = None
    """The client's send_at, if any."""
    validity_seconds: int = 36000
    expires_at: Time | None = None
    """When a message still not handed to the carrier fails as expired."""


class MessageQueued(_Outbound, frozen=True, kw_only=True):
    """A message is waiting for its turn at the carrier: accepted now (``facts`` set, credit reserved) or
    a scheduled message whose time came. Emitted by outbound."""

    message_id: str
    facts: MessageFacts | None = None
    """Set on the accepting event only."""
    reason: str = ""
    UPCASTERS = (_FACTS_UPCASTER,)


class MessageScheduled(_Outbound, frozen=True, kw_only=True):
    """A message waits until ``send_at`` (the client's send_at, or quiet hours deferring it, at acceptance
    or at the final check). Emitted by outbound."""

    message_id: str
    send_at: Time
    reason: str = ""
    facts: MessageFacts | None = None
    """Set when the message is accepted as scheduled."""
    deferred_by: str = ""
    """The gate's checks that deferred it past its own send_at (e.g. quiet_hours), comma separated."""
    UPCASTERS = (_FACTS_UPCASTER,)


class MessageSending(_Outbound, frozen=True, kw_only=True):
    """The final check allowed the message and it is being handed to the carrier (appended before the
    carrier call; ``attempt`` counts submissions, a resubmission carries the same reference). Emitted by
    outbound."""

    message_id: str
    attempt: int = 1
    decision_id: str = ""
    reason: str = ""
    """Why, when it is not the final check's allow (a held receipt proves the carrier already has it)."""


class MessageSubmissionRetried(_Outbound, frozen=True, kw_only=True):
    """A submission failed transiently (timeout, 5xx); the message stays ``sending`` and is resubmitted
    with the same reference at ``retry_at``. Emitted by outbound."""

    message_id: str
    attempt: int
    error: str
    retry_at: Time


class MessageSent(_Outbound, frozen=True, kw_only=True):
    """The carrier accepted the message (status sent). Emitted by outbound; accounts captures its credit."""

    message_id: str
    carrier_message_id: str
    reservation_id: str = ""


class MessageDelivered(_Outbound, frozen=True, kw_only=True):
    """The carrier's receipt says the handset got it (DELIVRD). Terminal. Emitted by outbound."""

    message_id: str
    carrier_message_id: str = ""
    receipt_status: str = "DELIVRD"
    delivered_at: Time | None = None
    """The carrier's time of delivery, when it gave one."""
    UPCASTERS = (times_upcaster("delivered_at"),)  # "" was no time


class MessageUndelivered(_Outbound, frozen=True, kw_only=True):
    """The carrier's receipt reports failure (UNDELIV, REJECTD, EXPIRED, DELETED), or no final receipt came
    within the receipt timeout (error_code DELIVERY_UNCONFIRMED, receipt_status empty). Terminal; the
    carrier had it, so its credit stays spent. Emitted by outbound."""

    message_id: str
    carrier_message_id: str = ""
    receipt_status: str
    error_code: str = ""
    reason: str = ""


class MessageFailed(_Outbound, frozen=True, kw_only=True):
    """The message ended as failed (refused by the carrier, expired in the queue, refused by the final
    check). Emitted by outbound; accounts refunds it when it never reached the carrier."""

    message_id: str
    reason: str
    error_code: str = ""
    """EXPIRED | CARRIER_REJECTED | a compliance code (QUIET_HOURS, CONSENT_REQUIRED, ...)"""
    reached_carrier: bool = False
    reservation_id: str = ""


class MessageCanceled(_Outbound, frozen=True, kw_only=True):
    """The message was canceled before reaching the carrier: an opt-out landed first, the organization
    canceled it (``POST /v1/messages/{id}/cancel``) or released its sending number. Emitted by outbound;
    accounts refunds it."""

    message_id: str
    reason: str
    reservation_id: str = ""
    opt_out_event_id: str = ""
    code: str = ""
    """RECIPIENT_OPTED_OUT | CANCELED_BY_USER | NUMBER_RELEASED (empty on events written before codes)."""


class StatusCallbackAttempted(_Outbound, frozen=True, kw_only=True):
    """One POST of a status callback to the customer's URL (stream ``status-callback-<id>``).
    ``outcome``: delivered | retrying | failed (gave up after the retry window). Emitted by outbound."""

    message_id: str
    callback_id: str
    """= the event id of the status change it reports (the receiver's dedupe key)."""
    status: str
    """The message status the callback reported."""
    url: str
    attempt: int
    outcome: str
    status_code: int = 0
    error: str = ""
    latency_ms: int = 0


class ReplyRefused(_Outbound, frozen=True, kw_only=True):
    """Outbound refused a text compliance recorded (ReplyIssued, DoubleOptInRequested) when it consumed
    the event: the number cannot send, the organization cannot pay, the contact opted out since. Nothing
    was accepted under ``message_id``. Stream ``reply-<message_id>``, recorded once. Emitted by outbound;
    compliance ends a double opt-in whose text it was (DoubleOptInExpired send_failed) and answers its
    request with this error."""

    AGGREGATE: ClassVar[str] = "reply"
    message_id: str
    contact_number: str
    kind: str
    """opt_in_request | opt_out_confirmation | help_reply | keyword_reply"""
    source_event_id: str
    """The compliance event whose text it was."""
    request_id: str = ""
    """The double opt-in's id, when the text was its confirmation."""
    error: ErrorBody
    """The send path's error, as the caller would have had it (SENDING_NOT_ENABLED 403, INSUFFICIENT_CREDIT
    402, RECIPIENT_OPTED_OUT 453, ...)."""
