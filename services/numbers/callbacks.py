"""HTTP both ways: the carrier's signed campaign-review callbacks in (``POST /carrier/campaigns`` on this
service's own port), and our signed campaign status callbacks out, retried from a work queue.

Status callbacks are signed (``X-AmCore-Signature``) with the campaign's own ``webhook_secret``, created
with its first ``status_callback_url`` and shown on the campaign."""

from __future__ import annotations

import random

import asyncpg
import msgspec
import structlog
from aiohttp import web

from libs.backoff import RetryPolicy
from libs.carrier.adapter import verify_callback
from libs.store.eventstore import EventStore
from libs.webhooks.sender import WebhookSender
from libs.workqueue import QueueWorker, WorkQueue
from proto.base import utcnow
from services.numbers.config import NumbersSettings
from services.numbers.tendlc import TenDlc

log = structlog.get_logger(__name__)


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
    """Deliver queued campaign status callbacks (the ``campaign_callbacks`` queue of :mod:`libs.workqueue`,
    POSTed by :mod:`libs.webhooks.sender`): at least once, ``callback_max_attempts`` tries with backoff,
    then given up (the row keeps its last error)."""

    def __init__(self, store: EventStore, settings: NumbersSettings):
        self.store = store
        self.queue = WorkQueue(
            "campaign_callbacks", "w.id::text AS id, w.campaign_id::text AS campaign_id, w.url, w.body, w.attempts",
            pending=f"q.delivered_at IS NULL AND q.attempts < {int(settings.callback_max_attempts)}")
        self.sender = WebhookSender("campaign_status", settings.env, settings.callback_timeout_s, RetryPolicy(
            settings.campaign_callback_retry_base_s, settings.campaign_callback_retry_cap_s, max_attempts=settings.callback_max_attempts))

    async def run(self) -> None:
        worker = QueueWorker("campaign-callbacks", self.queue, self.store.pool, self._deliver, concurrency=20,
                             lease_s=300.0, poll_s=0.2)
        try:
            await worker.run()
        finally:
            await self.sender.close()

    async def _deliver(self, row: asyncpg.Record) -> None:
        secret = await self.store.pool.fetchval("SELECT webhook_secret FROM campaigns WHERE id = $1",
                                                row["campaign_id"])
        attempt = await self.sender.post(row["url"], bytes(row["body"]), [secret] if secret else [], row["id"])
        verdict = self.sender.verdict(attempt, row["attempts"], 0.0, random.random(), final_on_refusal=False)
        if verdict.outcome == "delivered":
            await self.queue.finish(self.store.pool, row["id"], delivered_at=utcnow())
        elif verdict.delay_s is not None:
            await self.queue.retry(self.store.pool, row["id"], verdict.delay_s, last_error=attempt.error)
        else:  # the last try: the row stays, never claimed again
            await self.queue.finish(self.store.pool, row["id"], last_error=attempt.error)
        self.sender.logged(row["id"], row["attempts"], attempt, verdict.outcome, campaign_id=row["campaign_id"])
