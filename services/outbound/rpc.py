"""am.cmd.outbound.* endpoints."""

from __future__ import annotations

from libs.runtime.service import Service
from proto.commands import outbound as c
from services.outbound.handlers import Outbound


async def register(svc: Service, h: Outbound) -> None:
    r = svc.rpc_server
    await r.register("send_message", c.SendMessage, h.send)
    await r.register("get_message", c.GetMessage, h.get)
    await r.register("cancel_message", c.CancelMessage, h.cancel)
    await r.register("list_messages", c.ListMessages, h.list_messages)
    await r.register("list_status_callbacks", c.ListStatusCallbacks, h.callbacks)
    await r.register("get_callback_secret", c.GetCallbackSecret, h.callback_secret)
