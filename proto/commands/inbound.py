"""Commands of the inbound domain (am.cmd.inbound.<command>); the gateway's inbound routes call them."""

from __future__ import annotations

import msgspec

from proto.base import Command
from proto.http.inbound import DeliveriesView, InboundMessageView


class ListInbound(Command["InboundPage"], frozen=True, kw_only=True):
    """A page of an organization's inbound messages. Without ``after``: newest first, older pages by
    ``cursor``. With ``after`` (a message id or a cursor): only newer messages, oldest first."""

    NAME = "list"
    org_id: str
    limit: int = 20
    """0 answers no rows, only ``head`` (a long poll's starting point)."""
    cursor: str | None = None
    to: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    since: str | None = None
    """RFC 3339; already validated by the caller."""
    after: str | None = None
    otp: bool = False
    """Only messages carrying a one-time code."""


class InboundPage(msgspec.Struct, kw_only=True):
    data: list[InboundMessageView]
    next_cursor: str | None = None
    head: str
    """A cursor for the organization's newest message at the time of the query: ``after=head`` means
    "anything that arrives from now on"."""


class GetInbound(Command[InboundMessageView], frozen=True, kw_only=True):
    NAME = "get"
    org_id: str
    message_id: str


class GetDeliveries(Command[DeliveriesView], frozen=True, kw_only=True):
    NAME = "deliveries"
    org_id: str
    message_id: str


class Redeliver(Command[DeliveriesView], frozen=True, kw_only=True):
    """POST the message to the number's current inbound_url again; the retry schedule restarts."""

    org_id: str
    message_id: str


__all__ = ["DeliveriesView", "GetDeliveries", "GetInbound", "InboundMessageView", "InboundPage", "ListInbound",
           "Redeliver"]


# -- conversations ------------------------------------------------------------------------------------

class ConversationMessageView(msgspec.Struct, kw_only=True):
    """One message of a conversation, either direction."""

    id: str
    """The outbound message id (GET /v1/messages/{id}) or the inbound one (GET /v1/inbound-messages/{id})."""
    direction: str
    """inbound | outbound"""
    from_: str = msgspec.field(name="from")
    to: str
    text: str
    at: str
    """When it was received (inbound) or accepted (outbound)."""
    status: str | None = None
    """An outbound message's latest known status; null for inbound."""
    otp: str | None = None
    """An inbound message's one-time code, if any."""


class ConversationView(msgspec.Struct, kw_only=True):
    id: str
    phone_number: str
    """Your number."""
    contact_number: str
    last_message: ConversationMessageView | None = None
    unread_count: int = 0
    """Inbound messages since the conversation was last read (its messages listed) or answered."""
    message_count: int = 0
    consent_status: str = "none"
    """The contact's consent: none | granted | opted_out (from compliance, at read time)."""
    updated_at: str | None = None
    created_at: str | None = None


class ListConversations(Command["ConversationPage"], frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None
    phone_number: str | None = None
    contact_number: str | None = None


class ConversationPage(msgspec.Struct, kw_only=True):
    data: list[ConversationView]
    next_cursor: str | None = None


class GetConversation(Command[ConversationView], frozen=True, kw_only=True):
    org_id: str
    conversation_id: str


class ListConversationMessages(Command["ConversationMessagePage"], frozen=True, kw_only=True):
    """Newest first, older pages by cursor; listing the first page marks the conversation read."""

    NAME = "conversation_messages"
    org_id: str
    conversation_id: str
    limit: int = 20
    cursor: str | None = None


class ConversationMessagePage(msgspec.Struct, kw_only=True):
    data: list[ConversationMessageView]
    next_cursor: str | None = None
