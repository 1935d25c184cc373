"""Events of the outbound domain (stream AM_OUTBOUND, subjects am.outbound.message.<event>.<org_id>).

The outbound service adds its other events here; these three are consumed by accounts (credit)."""

from __future__ import annotations

from typing import ClassVar

from proto.base import Event


class _Outbound(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "outbound"
    AGGREGATE: ClassVar[str] = "message"


class MessageSent(_Outbound, frozen=True, kw_only=True):
    """The carrier accepted the message (status sent). Emitted by outbound; accounts captures its credit."""

    message_id: str
    carrier_message_id: str
    reservation_id: str = ""


class MessageFailed(_Outbound, frozen=True, kw_only=True):
    """The message ended as failed (refused by the carrier, expired in the queue). Emitted by outbound;
    accounts refunds it when it never reached the carrier."""

    message_id: str
    reason: str
    error_code: str = ""
    reached_carrier: bool = False
    reservation_id: str = ""


class MessageCanceled(_Outbound, frozen=True, kw_only=True):
    """The message was canceled before reaching the carrier (an opt-out landed first). Emitted by
    outbound; accounts refunds it."""

    message_id: str
    reason: str
    reservation_id: str = ""
