"""Commands of the outbound domain (am.cmd.outbound.<command>) that other services rely on.

The outbound service may add more commands below (get, list...)."""

from __future__ import annotations

import msgspec

from proto.base import Command
from proto.commands.compliance import Category, SendKind


class SendMessage(Command, frozen=True, kw_only=True):
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


class MessageView(msgspec.Struct, kw_only=True):
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
    send_at: str | None = None
    status_reason: str | None = None
    queue_position: int | None = None
    expected_send_at: str | None = None
