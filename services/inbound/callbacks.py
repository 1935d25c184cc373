"""The carrier's MO callback on this service's own HTTP port: ``POST /carrier/mo``.

Answers 401 for a bad ``X-Sim-Signature``, 400 for a malformed body, 200 once the message is stored (or was
already: a retried callback is acknowledged, not stored twice; or nobody owns the number: stored for ops),
and 503 when numbers cannot say who owns the number or compliance cannot record the message's keyword effect
before it is visible — the carrier retries, so nothing is lost."""

from __future__ import annotations

import msgspec
import structlog
from aiohttp import web

from libs.carrier.adapter import verify_callback
from services.inbound import model
from services.inbound.handlers import Inbound, Unavailable

log = structlog.get_logger(__name__)

_decoder = msgspec.json.Decoder(model.MoCallback)


def carrier_mo(h: Inbound, secret: str) -> web.RouteDef:
    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_callback(secret, request.headers.get("X-Sim-Signature"), raw):
            log.warning("carrier_callback_bad_signature", remote=request.remote)
            return web.json_response({"error": "bad_signature"}, status=401)
        try:
            mo = _decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("carrier_callback_malformed", error=str(exc))
            return web.json_response({"error": "malformed", "detail": str(exc)}, status=400)
        try:
            outcome = await h.ingest(mo)
        except Unavailable as exc:
            log.warning("carrier_mo_deferred", carrier_message_id=mo.carrier_message_id, reason=str(exc))
            return web.json_response({"error": "unavailable", "retry": True}, status=503)
        return web.json_response({"status": outcome})

    return web.post("/carrier/mo", handle)
