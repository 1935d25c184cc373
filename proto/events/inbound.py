"""Events of the inbound domain (stream AM_INBOUND, subjects am.inbound.<aggregate>.<event>.<org_id>).

The inbound service adds its other events here; InboundMessageReceived is consumed by compliance
(keywords, conversation window) and followed live by the gateway's long poll."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from proto.base import Event


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
    received_at: str
