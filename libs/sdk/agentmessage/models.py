"""Typed models of the API's resources (msgspec). Fields the API adds later are ignored, so an older
SDK keeps working against a newer API."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class Model(msgspec.Struct, kw_only=True):
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


class Page(Model, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


class TimelineEntry(Model):
    status: str
    at: str
    reason: str | None = None


class Message(Model):
    """An outbound message."""

    id: str
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    status: str
    created_at: str
    segments: int = 1
    encoding: str = "GSM-7"
    price: str = "0.0000"
    category: str = "conversational"
    kind: str = "standard"
    """standard, or an automatic message: opt_in_request, opt_out_confirmation, help_reply, keyword_reply."""
    send_at: str | None = None
    status_reason: str | None = None
    queue_position: int | None = None
    expected_send_at: str | None = None
    error_code: str | None = None
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)


class InboundMessage(Model):
    id: str
    from_: str = msgspec.field(name="from")
    to: str
    body: str
    received_at: str
    channel: str = "sms"
    otp: str | None = None
    """The one-time code found in the body, if any."""


class PhoneNumber(Model):
    id: str
    phone_number: str
    status: str
    friendly_name: str | None = None
    inbound_url: str | None = None


class Check(Model):
    name: str
    result: str
    detail: str = ""


class SendDecision(Model):
    """The compliance gate's verdict on a send (``check_send``, or why a send was refused)."""

    decision: str
    code: str | None = None
    reason: str = ""
    status: int = 200
    defer_until: str | None = None
    checks: list[Check] = msgspec.field(default_factory=list)


class DoubleOptIn(Model):
    id: str
    status: str
    contact_number: str
    phone_number_id: str
    from_: str = msgspec.field(name="from")
    message_id: str
    created_at: str
    expires_at: str
    confirmed_at: str | None = None


class Consent(Model):
    contact_number: str
    status: str
    """none | granted | opted_out"""
    consent: dict[str, Any] | None = None
    opted_out_at: str | None = None
    last_inbound_at: str | None = None
    pending_double_opt_in: DoubleOptIn | None = None
    history: list[dict[str, Any]] = msgspec.field(default_factory=list)


class Conversation(Model):
    """One per (your number, contact)."""

    id: str
    phone_number: str
    contact_number: str
    last_message: ConversationMessage | None = None
    unread_count: int = 0
    message_count: int = 0
    consent_status: str = "none"
    updated_at: str | None = None


class ConversationMessage(Model):
    id: str
    direction: str
    """inbound | outbound"""
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    at: str
    status: str | None = None
    otp: str | None = None


class KeyCaps(Model, omit_defaults=True):
    spend_per_day: str | None = None
    sends_per_minute: int | None = None
    sends_per_day: int | None = None
    allowed_recipients: list[str] | None = None
    allowed_from: list[str] | None = None
    expires_at: str | None = None


class KeyUsage(Model):
    sends_this_minute: int = 0
    sends_today: int = 0
    spend_today: str = "0.0000"


class ApiKey(Model):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None = None
    secret: str | None = None
    scopes: list[str] | None = None
    caps: KeyCaps | None = None
    expires_at: str | None = None
    usage: KeyUsage | None = None


class Balance(Model):
    balance: str
    currency: str = "USD"
