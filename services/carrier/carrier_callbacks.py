"""The HTTP carrier API's callbacks to us, on this service's own port: ``POST /carrier/dlr`` (receipts)
and ``POST /carrier/mo`` (inbound texts), signed ``X-Sim-Signature``. Answered 2xx once recorded, so the
carrier retries anything we did not keep."""

from __future__ import annotations

from typing import Annotated

import msgspec
import structlog
from aiohttp import web

from libs.carrier.http_api import verify_callback
from libs.smpp import receipt
from services.carrier.handlers import Carrier

log = structlog.get_logger(__name__)


class HttpReceipt(msgspec.Struct, kw_only=True):
    carrier_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    status: str
    reference: str | None = None
    error_code: str | None = None
    occurred_at: str | None = None


class HttpMo(msgspec.Struct, kw_only=True):
    carrier_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    from_: str = msgspec.field(name="from")
    to: str
    text: str = ""
    received_at: str = ""


def routes(h: Carrier, secret: str) -> list[web.RouteDef]:
    dlr_dec = msgspec.json.Decoder(HttpReceipt)
    mo_dec = msgspec.json.Decoder(HttpMo)

    async def dlr(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_callback(secret, request.headers.get("X-Sim-Signature"), raw):
            log.warning("carrier_callback_bad_signature", kind="dlr")
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            r = dlr_dec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return web.json_response({"error": "malformed receipt", "detail": str(exc)}, status=400)
        effect = await h.receipt(receipt.Receipt(message_id=r.carrier_message_id, stat=r.status.upper(),
                                                 err=r.error_code or "", done_at=r.occurred_at or ""))
        return web.json_response({"ok": True, "effect": effect})

    async def mo(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_callback(secret, request.headers.get("X-Sim-Signature"), raw):
            log.warning("carrier_callback_bad_signature", kind="mo")
            return web.json_response({"error": "bad_signature"}, status=401)
        try:
            m = mo_dec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return web.json_response({"error": "malformed", "detail": str(exc)}, status=400)
        effect = await h.http_mo(m.carrier_message_id, m.from_, m.to, m.text, m.received_at)
        return web.json_response({"status": effect})

    return [web.post("/carrier/dlr", dlr), web.post("/carrier/mo", mo)]
