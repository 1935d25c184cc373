"""am.cmd.carrier.* endpoints: outbound submits, ops read the status."""

from __future__ import annotations

from libs.runtime.service import Service
from proto.commands import carrier as c
from services.carrier.handlers import Carrier


async def register(svc: Service, h: Carrier) -> None:
    r = svc.rpc_server
    await r.register("submit_message", c.SubmitMessage, h.submit, concurrency=1024)
    await r.register("get_status", c.GetCarrierStatus, h.status)
