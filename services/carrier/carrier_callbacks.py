"""The HTTP carrier API's callbacks to us, on this service's own port: ``POST /carrier/dlr`` (receipts)
and ``POST /carrier/mo`` (inbound texts), signed ``X-Sim-Signature``. Answered 2xx once recorded, so the
carrier retries anything we did not keep."""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec
from aiohttp import web

from libs.carrier.http_api import signed_callback
from libs.smpp import receipt
from services.carrier.handlers import Carrier

T = TypeVar("T")
_enc = msgspec.json.Encoder()


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
        r = _decoded(dlr_dec, await signed_callback(request, secret), "receipt")
        effect = await h.receipt(receipt.Receipt(message_id=r.carrier_message_id, stat=r.status.upper(),
                                                 err=r.error_code or "", done_at=r.occurred_at or ""))
        return web.json_response({"ok": True, "effect": effect})

    async def mo(request: web.Request) -> web.Response:
        m = _decoded(mo_dec, await signed_callback(request, secret), "inbound text")
        effect = await h.http_mo(m.carrier_message_id, m.from_, m.to, m.text, m.received_at)
        return web.json_response({"status": effect})

    return [web.post("/carrier/dlr", dlr), web.post("/carrier/mo", mo)]


def _decoded(dec: msgspec.json.Decoder[T], raw: bytes, what: str) -> T:
    try:
        return dec.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise web.HTTPBadRequest(text=_enc.encode({"error": f"malformed {what}", "detail": str(exc)}).decode(),
                                 content_type="application/json") from exc
