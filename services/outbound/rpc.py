"""am.cmd.outbound.* endpoints."""

from __future__ import annotations

from libs.bus.rpc import Registry
from proto.commands import outbound as c
from services.outbound.handlers import Outbound


def commands(h: Outbound) -> Registry:
    """What this service answers: each command class with its handler."""
    return {
        c.SendMessage: h.send,
        c.SendMessages: h.send_many,
        c.GetMessage: h.get,
        c.CancelMessage: h.cancel,
        c.ListMessages: h.list_messages,
        c.ListStatusCallbacks: h.callbacks,
        c.GetCallbackSecret: h.callback_secret,
    }
