"""HTTP both ways: the carrier's signed campaign-review callbacks in (``POST /carrier/campaigns`` on this
service's own port), and our signed campaign status callbacks out, retried by a background loop.

Status callbacks are signed (``X-AmCore-Signature``) with the campaign's own ``webhook_secret``, created
with its first ``status_callback_url`` and shown on the campaign."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import asyncpg
import msgspec
import structlog
from aiohttp import web

from libs.carrier.adapter import verify_callback
from libs.store.eventstore import EventStore
from libs.webhooks import urls
from libs.webhooks.signing import HEADER, sign
from proto.base import utcnow
from services.numbers.config import NumbersSettings
from services.numbers.tendlc import TenDlc

log = structlog.get_logger(__name__)

BACKOFF_S = (1, 5, 30, 120, 600)


def carrier_route(settings: NumbersSettings, tendlc: TenDlc) -> web.RouteDef:
    async def campaigns(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_callback(settings.sim_callback_secret, request.headers.get("X-Sim-Signature"), raw):
            log.warning("carrier_callback_bad_signature", path=request.path)
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            outcome = await tendlc.apply_review(msgspec.json.decode(raw))
        except (msgspec.DecodeError, ValueError) as exc:
            log.warning("carrier_callback_malformed", error=str(exc))
            return web.json_response({"error": "malformed callback"}, status=400)
        if outcome == "retry":
            return web.json_response({"status": "not ready, retry"}, status=503)
        return web.json_response({"status": outcome})

    return web.post("/carrier/campaigns", campaigns)


class StatusCallbacks:
    """Deliver queued campaign status callbacks: at least once, a few tries, then given up (logged)."""

    def __init__(self, store: EventStore, settings: NumbersSettings):
        self.store = store
        self.settings = settings

    async def run(self) -> None:
        async with urls.new_session(self.settings.env, self.settings.callback_timeout_s) as http:
            while True:
                rows = await self.store.pool.fetch(
                    "UPDATE campaign_callbacks SET attempts = attempts + 1, next_attempt_at = now() + interval '5 minutes'"
                    " WHERE id IN (SELECT id FROM campaign_callbacks WHERE delivered_at IS NULL AND attempts < $1"
                    " AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)"
                    " RETURNING id::text AS id, campaign_id::text AS campaign_id, url, body, attempts",
                    self.settings.callback_max_attempts)
                if rows:
                    await asyncio.gather(*(self._deliver(http, r) for r in rows))
                else:
                    await asyncio.sleep(0.2)

    async def _deliver(self, http: aiohttp.ClientSession, row: asyncpg.Record) -> None:
        secret = await self.store.pool.fetchval("SELECT webhook_secret FROM campaigns WHERE id = $1",
                                                row["campaign_id"])
        body: bytes = bytes(row["body"])
        headers = {"Content-Type": "application/json", "X-AmCore-Event-Id": row["id"]}
        if secret:
            headers[HEADER] = sign([secret], body)
        # the callback URL rule again, at delivery: resolved once, checked, connected to what was checked
        out = await urls.post(http, row["url"], body, headers, self.settings.env)
        if out.ok:
            await self.store.pool.execute("UPDATE campaign_callbacks SET delivered_at = now() WHERE id = $1",
                                          row["id"])
            log.info("campaign_callback_delivered", callback_id=row["id"])
            return
        error = out.error or f"HTTP {out.status}"
        attempts: int = row["attempts"]
        delay = BACKOFF_S[min(attempts - 1, len(BACKOFF_S) - 1)]
        await self.store.pool.execute(
            "UPDATE campaign_callbacks SET next_attempt_at = $2, last_error = $3 WHERE id = $1",
            row["id"], utcnow() + timedelta(seconds=delay), error)
        log.warning("campaign_callback_failed", callback_id=row["id"], attempt=attempts, error=error,
                    gave_up=attempts >= self.settings.callback_max_attempts)
