"""API shapes of inbound messages: the list/wait query, the message view, webhook deliveries, and the
JSON body POSTed to a number's inbound_url."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from proto.api import E164, UUID, Limit, Rfc3339

Wait = Annotated[int, msgspec.Meta(ge=0, le=60, description="Long poll: seconds to wait for a matching message "
                                   "newer than `after` (0-60); an empty page when none arrives")]


class InboundListQuery(msgspec.Struct, kw_only=True):
    limit: Limit = 20
    cursor: str | None = None
    """Opaque, from meta.next_cursor."""
    to: E164 | None = None
    """Only messages to this number of yours."""
    from_: Annotated[str, msgspec.Meta(max_length=32, description="Only messages from this sender (E.164, or a "
                                       "short code or alphanumeric sender id as the carrier gave it)")] | None = \
        msgspec.field(default=None, name="from")
    since: Rfc3339 | None = None
    """Only messages received at or after this time."""
    after: Annotated[str, msgspec.Meta(
        description="Only messages newer than this message id (or cursor); the page is then oldest first, so "
                    "the last item's id is the next `after`")] | None = None
    wait: Wait = 0
    otp: Annotated[bool, msgspec.Meta(
        description="Only messages carrying a one-time code (`otp`); with `wait`, wait for the next code")] = False


Sender = Annotated[str, msgspec.Meta(description="The sender: E.164, or a short code as the carrier gave it",
                                      examples=["+15551234567"])]


class InboundMessageView(msgspec.Struct, kw_only=True):
    id: UUID
    from_: Sender = msgspec.field(name="from")
    to: E164
    body: str
    channel: Literal["sms"] = "sms"
    received_at: str
    otp: Annotated[str, msgspec.Meta(
        description="The one-time code found in the body (4-8 digits or letters and digits, e.g. from "
                    "'Your code is 1234' or 'G-123456'); present only when one is found")] | msgspec.UnsetType = \
        msgspec.UNSET


class DeliveryAttemptView(msgspec.Struct, kw_only=True):
    attempt: int
    attempted_at: str
    succeeded: bool
    status_code: int | None
    """The receiver's HTTP status; null when it could not be reached or timed out."""
    latency_ms: int
    error: str | None
    url: str


DeliveryState = Literal["none", "pending", "succeeded", "failed", "cancelled"]


class DeliveriesView(msgspec.Struct, kw_only=True):
    message_id: UUID
    event_id: UUID
    """The event id every push of this message carries (stable across retries: dedupe on it)."""
    state: DeliveryState
    """none: the number had no inbound_url; pending: queued or retrying; succeeded; failed: retries exhausted;
    cancelled: the number lost its inbound_url or owner before delivery."""
    attempt_count: int
    next_attempt_at: str | None
    last_error: str | None
    attempts: list[DeliveryAttemptView]
    """Oldest first."""


class InboundWebhook(msgspec.Struct, kw_only=True):
    """The JSON body POSTed to a number's inbound_url, signed with X-AmCore-Signature."""

    id: UUID
    """The inbound message id (as in GET /v1/inbound-messages/{id})."""
    event_id: UUID
    """Stable across retries and redeliveries: receivers dedupe on it."""
    type: Literal["message.received"] = "message.received"
    from_: Sender = msgspec.field(name="from")
    to: E164
    body: str
    channel: Literal["sms"] = "sms"
    received_at: str
    phone_number_id: UUID
    otp: Annotated[str, msgspec.Meta(description="The one-time code found in the body; present only when one "
                                                 "is found")] | msgspec.UnsetType = msgspec.UNSET
