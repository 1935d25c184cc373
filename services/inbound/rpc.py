"""am.cmd.inbound.* endpoints (called by the gateway's inbound routes)."""

from __future__ import annotations

from libs.bus.rpc import Registry
from proto.commands import inbound as c
from services.inbound.conversations import Conversations
from services.inbound.handlers import Inbound


def commands(h: Inbound, conv: Conversations) -> Registry:
    """What this service answers: each command class with its handler."""
    return {
        c.ListInbound: h.list_messages,
        c.GetInbound: h.get,
        c.GetDeliveries: h.deliveries,
        c.Redeliver: h.redeliver,
        c.ListConversations: conv.list,
        c.GetConversation: conv.get,
        c.ListConversationMessages: conv.messages,
    }
