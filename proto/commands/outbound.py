"""Commands of the outbound domain (am.cmd.outbound.<command>): send (gateway and compliance), read
(gateway)."""

from __future__ import annotations

from typing import Literal

import msgspec

from proto.base import Command, ErrorBody
from proto.commands.compliance import Category, SendKind


class SendMessage(Command["MessageView"], frozen=True, kw_only=True):
    """Accept a message: gate (compliance), reserve credit (accounts), queue. Idempotent on message_id."""

    org_id: str
    message_id: str | None = None
    """Caller-chosen id: sending again with the same id returns the first message, never a second one."""
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    category: Category = "conversational"
    kind: SendKind = "standard"
    send_at: str | None = None
    validity_seconds: int | None = None
    status_callback_url: str | None = None
    on_frequency_cap: Literal["reject", "defer"] | None = None
    """Over a frequency cap: reject (FREQUENCY_CAP) or defer; None: the organization's policy."""


class MessageView(msgspec.Struct, kw_only=True):
    id: str
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    status: str
    """queued | scheduled | sending | sent | delivered | undelivered | failed | canceled"""
    created_at: str
    segments: int = 1
    encoding: str = "GSM-7"
    """GSM-7 (160 characters, 153 per part) or UCS-2 (70, 67 per part)."""
    price: str = "0.0000"
    """Price in USD: segments x the price per segment."""
    category: str = "conversational"
    send_at: str | None = None
    status_reason: str | None = None
    queue_position: int | None = None
    """While queued: how many messages from the same number go before this one."""
    expected_send_at: str | None = None
    """While queued or scheduled: when it is expected to go to the carrier."""
    updated_at: str | None = None
    error_code: str | None = None
    """For failed / undelivered / canceled: why, as a code."""
    kind: str = "standard"
    status_callback_url: str | None = None
    carrier_message_id: str | None = None
    expires_at: str | None = None
    """A message not handed to the carrier by then fails as expired (validity_seconds)."""


class BatchedSend(msgspec.Struct, frozen=True, kw_only=True):
    """One send of a ``send_messages`` request, with the trace it belongs to (each send keeps its own)."""

    command: SendMessage
    traceparent: str | None = None


class SendMessages(Command["SendResults"], frozen=True, kw_only=True):
    """Many ``send_message`` commands in one request (the gateway's group commit of the sends in flight
    together), each accepted or refused on its own, as it would be alone."""

    sends: list[BatchedSend]


class SendResult(msgspec.Struct, kw_only=True):
    """One answer of ``send_messages``: the message, or the error ``send_message`` would answer."""

    message: MessageView | None = None
    error: ErrorBody | None = None


class SendResults(msgspec.Struct, kw_only=True):
    results: list[SendResult]
    """In the order of the request's ``sends``."""


class TimelineEntry(msgspec.Struct, kw_only=True):
    status: str
    at: str
    reason: str | None = None


class MessageDetail(MessageView, kw_only=True):
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)
    """Every status the message went through, oldest first, with its time and reason."""


class CancelMessage(Command[MessageDetail], frozen=True, kw_only=True):
    """Cancel a message that has not reached the carrier (scheduled or queued): it ends ``canceled``
    (CANCELED_BY_USER), its credit is refunded and its status callback sent. A message already
    ``sending`` or later answers 409 MESSAGE_NOT_CANCELABLE; an already canceled one is answered as it is."""

    org_id: str
    message_id: str


class GetMessage(Command[MessageDetail], frozen=True, kw_only=True):
    org_id: str
    message_id: str


class ListMessages(Command["MessagePage"], frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None
    status: str | None = None
    """One status or several, comma separated."""
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    created_after: str | None = None
    created_before: str | None = None


class MessagePage(msgspec.Struct, kw_only=True):
    data: list[MessageView]
    next_cursor: str | None = None


class GetCallbackSecret(Command["CallbackSecretView"], frozen=True, kw_only=True):
    """The organization's fallback secret for status callbacks from numbers without a webhook secret."""

    org_id: str


class CallbackSecretView(msgspec.Struct, kw_only=True):
    secret: str
    used_for: str = ("status callbacks from numbers that have no webhook_secret of their own (numbers with "
                     "an inbound_url sign with their webhook_secret)")


class ListStatusCallbacks(Command["list[StatusCallbackView]"], frozen=True, kw_only=True):
    org_id: str
    message_id: str


class StatusCallbackView(msgspec.Struct, kw_only=True):
    event_id: str
    """The callback's event_id (the receiver's dedupe key)."""
    status: str
    """The message status it reports."""
    url: str
    state: str
    """pending | delivered | failed (gave up after the retry window)"""
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    created_at: str
    finished_at: str | None = None
