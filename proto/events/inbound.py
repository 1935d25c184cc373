"""Events of the inbound domain (stream AM_INBOUND, subjects am.inbound.<aggregate>.<event>.<org_id>).

The inbound service adds its other events here; InboundMessageReceived is consumed by compliance
(keywords, conversation window) and followed live by the gateway's long poll."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from proto.base import Event, Time


class _Inbound(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "inbound"


class InboundMessageReceived(_Inbound, frozen=True, kw_only=True):
    """A text to one of an organization's numbers was stored (once per carrier message id). Emitted by
    inbound."""

    AGGREGATE: ClassVar[str] = "message"
    message_id: str
    carrier_message_id: str
    phone_number_id: str
    from_: str = msgspec.field(name="from")
    to: str
    body: str
    received_at: Time


UNROUTED_ORG = "unrouted"
"""The org_id of messages to numbers nobody owns: their events go to
``am.inbound.unrouted_message.unrouted_message_received.unrouted`` for ops to tail."""


class UnroutedMessageReceived(_Inbound, frozen=True, kw_only=True):
    """A text arrived for a number no organization owns; it was stored (once per carrier message id) for ops,
    acknowledged to the carrier, and delivered to nobody. org_id is always ``unrouted``. Emitted by inbound."""

    AGGREGATE: ClassVar[str] = "unrouted_message"
    message_id: str
    carrier_message_id: str
    from_: str = msgspec.field(name="from")
    to: str
    body: str
    received_at: Time


class _Delivery(_Inbound, frozen=True, kw_only=True):
    AGGREGATE: ClassVar[str] = "webhook_delivery"
    delivery_id: str
    message_id: str
    phone_number_id: str
    message_event_id: str
    """The event id the webhook payload carries (the message's InboundMessageReceived), stable across
    retries and redeliveries: receivers dedupe on it."""


class WebhookDeliveryAttempted(_Delivery, frozen=True, kw_only=True):
    """A POST of an inbound message to the number's inbound_url did not succeed (non-2xx, timeout,
    unreachable); its outcome and when the retry is due. (A successful attempt is WebhookDeliverySucceeded.)
    Emitted by inbound."""

    attempt: int
    status_code: int | None = None
    latency_ms: int = 0
    error: str | None = None
    next_attempt_at: Time | None = None
    """When the next retry is due (None after a success, or when retries are exhausted)."""


class WebhookDeliverySucceeded(_Delivery, frozen=True, kw_only=True):
    """The receiver answered 2xx: the message is delivered. Emitted by inbound."""

    attempts: int
    status_code: int
    latency_ms: int = 0


class WebhookDeliveryFailed(_Delivery, frozen=True, kw_only=True):
    """Final: the receiver did not answer 2xx for the whole retry window; no more automatic retries (a
    redelivery can still be requested). Emitted by inbound."""

    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None


class WebhookDeliveryCancelled(_Delivery, frozen=True, kw_only=True):
    """Final: the delivery was dropped before sending because the number no longer has an inbound_url or no
    longer belongs to the organization. Emitted by inbound."""

    reason: str


class RedeliveryRequested(_Delivery, frozen=True, kw_only=True):
    """The organization asked for a message to be POSTed to its inbound_url again; the retry schedule
    restarts. Emitted by inbound."""
