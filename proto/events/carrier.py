"""Events of the carrier domain (stream AM_CARRIER, subjects am.carrier.<aggregate>.<event>.<org_id>).

The carrier service is the only one that talks to upstream carriers (SMPP binds, HTTP adapters); these
are its records of what the carrier answered. Outbound consumes ReceiptReceived (message statuses) and
inbound consumes InboundTextReceived (stored and pushed as inbound messages)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from proto.base import Event, Time, times_upcaster


class _Carrier(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "carrier"


class MessageSubmitted(_Carrier, frozen=True, kw_only=True):
    """The carrier acknowledged a message (every part's submit_sm_resp was OK, or the HTTP API took it).
    Emitted by carrier."""

    AGGREGATE: ClassVar[str] = "submission"
    message_id: str
    carrier_message_id: str
    """The carrier's id of the first part."""
    part_ids: list[str] = []
    """The carrier's id of every part, in order (receipts come per part)."""
    adapter: str = ""
    bind: str = ""


class SubmissionRefused(_Carrier, frozen=True, kw_only=True):
    """The carrier refused a message (a submit_sm_resp with an error status, a 4xx from an HTTP API).
    Emitted by carrier."""

    AGGREGATE: ClassVar[str] = "submission"
    message_id: str
    error_code: str
    """The SMPP command status name (ESME_RINVDSTADR…) or the HTTP API's code."""
    reason: str = ""
    parts_accepted: int = 0
    """Parts the carrier took before it refused one (they may reach the handset)."""


class SubmissionUnconfirmed(_Carrier, frozen=True, kw_only=True):
    """The connection ended after (part of) a message left and before the carrier acknowledged it. The
    message is not submitted again — it may have been delivered, it is never delivered twice. Emitted by
    carrier."""

    AGGREGATE: ClassVar[str] = "submission"
    message_id: str
    reason: str


class ReceiptReceived(_Carrier, frozen=True, kw_only=True):
    """A delivery receipt for a message we submitted (for a message in parts: the first part that did not
    arrive, or the last of them all delivered). Published once the receipt is matched to its submission,
    even when it came before our record of the submit_sm_resp. Emitted by carrier."""

    AGGREGATE: ClassVar[str] = "submission"
    message_id: str
    carrier_message_id: str
    status: str
    """The SMPP message state: DELIVRD | EXPIRED | DELETED | UNDELIV | REJECTD | UNKNOWN | ACCEPTD"""
    outcome: str = ""
    """delivered | undelivered for a final state; empty for an intermediate one (ACCEPTD)."""
    error_code: str = ""
    """The receipt's ``err:`` (or network_error_code) when not zero."""
    done_at: Time | None = None
    """The carrier's time of the final state, when its receipt gave one it could read."""
    UPCASTERS = (times_upcaster("done_at"),)  # written as text, "" for none, before times were datetimes


UPSTREAM_ORG = "upstream"
"""The org_id of an inbound text: the carrier service does not know who owns a number (inbound asks
numbers), so these go to ``am.carrier.inbound_text.inbound_text_received.upstream``."""


class InboundTextReceived(_Carrier, frozen=True, kw_only=True):
    """A text from a handset arrived from the carrier (a deliver_sm, its parts reassembled in order; or the
    HTTP API's MO callback), recorded once. Emitted by carrier; inbound stores and pushes it."""

    AGGREGATE: ClassVar[str] = "inbound_text"
    carrier_message_id: str
    """Stable per text: a redelivered PDU or event is recognised downstream by it."""
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    received_at: Time
    """The carrier's time of receipt; ours when it gave none it could read."""
    parts: int = 1
    complete: bool = True
    """False when some parts never came within the reassembly timeout: ``text`` has what came."""
    data_coding: int = 0
    UPCASTERS = (times_upcaster("received_at", absent="occurred_at"),)  # was the carrier's text
