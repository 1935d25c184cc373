"""am.cmd.inbound.* endpoints (called by the gateway's inbound routes)."""

from __future__ import annotations

from libs.runtime.service import Service
from proto.commands import inbound as c
from services.inbound.conversations import Conversations
from services.inbound.handlers import Inbound


async def register(svc: Service, h: Inbound, conv: Conversations) -> None:
    r = svc.rpc_server
    await r.register("list", c.ListInbound, h.list_messages)
    await r.register("get", c.GetInbound, h.get)
    await r.register("deliveries", c.GetDeliveries, h.deliveries)
    await r.register("redeliver", c.Redeliver, h.redeliver)
    await r.register("list_conversations", c.ListConversations, conv.list)
    await r.register("get_conversation", c.GetConversation, conv.get)
    await r.register("conversation_messages", c.ListConversationMessages, conv.messages)
