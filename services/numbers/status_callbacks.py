"""Campaign status callbacks out: the organization's signed ``campaign.approved`` / ``campaign.rejected``
callbacks (queued by ``review.py`` in the transaction of the verdict), delivered at least once by a
background loop with retries, then given up (logged).

They are signed (``X-AmCore-Signature``) with the campaign's own ``webhook_secret``, created with its
first ``status_callback_url`` and shown on the campaign."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import asyncpg
import structlog

from libs.store.eventstore import EventStore
from libs.webhooks import urls
from libs.webhooks.signing import HEADER, sign
from proto.base import utcnow
from services.numbers.config import NumbersSettings

log = structlog.get_logger(__name__)

BACKOFF_S = (1, 5, 30, 120, 600)


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
