"""Webhook delivery: POST each inbound message to its number's inbound_url, signed, at least once.

Scheme. The body is JSON ``{id, event_id, type: "message.received", from, to, body, channel, received_at,
phone_number_id}``; the header is ``X-AmCore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" keyed with the number's webhook_secret>`` — one ``v1=`` per active secret while a rotation's
grace period lasts. We reject nothing for clock skew; receivers should refuse timestamps older than
5 minutes (replays) and dedupe on ``event_id`` (stable across retries and redeliveries; also sent as the
``X-AmCore-Event-Id`` header). A 2xx within 10 s is success; anything else is retried with exponential
backoff and jitter for at least 24 h, then marked failed.

Verification recipe (Python, standard library only; ``raw_body`` = the request bytes, before any JSON parse):

    import hashlib, hmac, time

    def verify(secret: str, header: str, raw_body: bytes, tolerance_s: int = 300) -> bool:
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        t = next((v for k, v in parts if k == "t"), "")
        if not t.isdigit() or abs(time.time() - int(t)) > tolerance_s:
            return False  # missing, or older than 5 minutes: refuse (replay protection)
        expected = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
        return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)

Mechanics. The queue is the ``webhook_deliveries`` table, worked by :mod:`libs.workqueue`'s loop: rows are
claimed with FOR UPDATE SKIP LOCKED and leased (so no connection is held during a POST, any number of replicas
can work, and a crash makes a row due again). A stored text's delivery is handed to this replica's worker
after the commit and claimed by its id; a scan for due rows (woken by NOTIFY, a redelivery, the poll, a retry
coming due) finds the rest. Attempts run concurrently, bounded overall and
per phone number, each with its own timeout, so a slow or dead receiver never holds up other numbers. The URL and secrets are resolved from
numbers at each attempt, so a changed URL or a rotated secret applies to retries too. The POST itself —
signature, URL rule, retry verdict, log line — is :mod:`libs.webhooks.sender`'s, shared with outbound's and
numbers' callbacks; the claim is this queue's own (per-number lanes), and so is the group commit of successes.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from libs.backoff import RetryPolicy
from libs.runtime.batching import Batcher
from libs.store import Write
from libs.store.eventstore import EventStore
from libs.webhooks.sender import Attempt, WebhookSender
from libs.workqueue import QueueWorker, WorkQueue
from proto.base import Event, rfc3339, utcnow
from proto.events.inbound import (
    WebhookDeliveryAttempted,
    WebhookDeliveryCancelled,
    WebhookDeliveryFailed,
    WebhookDeliverySucceeded,
)
from services.inbound import model, store
from services.inbound.config import InboundSettings
from services.inbound.handlers import Inbound, NumbersUnavailable

log = structlog.get_logger(__name__)

USER_AGENT = "AgentMessage-Webhooks/1"

QUEUE = WorkQueue("webhook_deliveries", "w.id::text AS id")
"""The queue's plain parts (when the next row is due); claims go through the lanes (``store.claim_due``)."""


class DeliveryWorker:
    def __init__(self, inbound: Inbound, es: EventStore, settings: InboundSettings,
                 rng: random.Random | None = None):
        self.inbound = inbound
        self.es = es
        """On a pool of its own, so a burst of ingest never starves deliveries of connections."""
        self.pool: asyncpg.Pool = es.pool
        self.settings = settings
        self.sender = WebhookSender(
            "inbound", settings.env, settings.inbound_webhook_timeout_s,
            RetryPolicy(settings.inbound_webhook_retry_base_s, settings.inbound_webhook_retry_cap_s,
                        settings.inbound_webhook_retry_window_s),
            user_agent=USER_AGENT, limit=settings.inbound_webhook_concurrency)
        self.rng = rng or random.Random()
        # one number never takes more than a quarter of the slots, even while it looks healthy
        healthy = min(settings.inbound_webhook_per_number_concurrency,
                      max(1, settings.inbound_webhook_concurrency // 4))
        self.lanes = model.Lanes(healthy, min(healthy, settings.inbound_webhook_unhealthy_concurrency))
        self._successes: Batcher[store.Success, bool] = Batcher(
            "webhook-successes", self._complete_successes, max_batch=256, workers=2)
        self.lease_s = max(settings.inbound_webhook_lease_s, settings.inbound_webhook_timeout_s + 5.0)
        # The claims run on the worker's listening connection, one at a time, each planned for its
        # parameters (their generic plans scan whole tables); everything else keeps its cached generic plan,
        # for planning a statement each time cost more than running it. Under load every stored message and
        # every finished attempt wakes the worker: it claims at most once per interval, so a burst of
        # wake-ups becomes one query that takes many rows.
        self.worker = QueueWorker(
            "webhook-deliveries", QUEUE, self.pool, self._attempt, concurrency=settings.inbound_webhook_concurrency,
            lease_s=self.lease_s, poll_s=settings.inbound_webhook_poll_interval_s,
            channel=store.notify_channel(es.schema), claim=self._claim, claim_ids=self._claim_ids,
            held=self.lanes.any_full, claim_interval_s=settings.inbound_webhook_claim_interval_s,
            custom_plans=True)

    def offer(self, delivery_id: str) -> None:
        """A delivery this replica has just stored, due now: claimed by its id (ingest sends no NOTIFY for
        it; another replica's poll finds it if this one dies first)."""
        self.worker.offer([delivery_id])

    async def run(self) -> None:
        """Claim due deliveries whenever there is a free slot; sleep until woken or the next one is due."""
        await self.worker.run()

    async def _claim(self, conn: asyncpg.Connection | asyncpg.Pool, free: int) -> list[asyncpg.Record]:
        return await self._lease(conn, free, None)

    async def _claim_ids(self, conn: asyncpg.Connection | asyncpg.Pool, ids: list[str], free: int
                         ) -> list[asyncpg.Record]:
        return await self._lease(conn, free, ids)

    async def _lease(self, conn: asyncpg.Connection | asyncpg.Pool, free: int, ids: list[str] | None
                     ) -> list[asyncpg.Record]:
        """Due rows (of ``ids``, or any) within each number's lane (model.Lanes); a row a race left no slot
        for is given back."""
        numbers, frees = self.lanes.limits()
        rows = await store.claim_due(conn, free, numbers, frees, self.lanes.healthy, self.lease_s, ids)
        started: list[asyncpg.Record] = []
        over: list[tuple[str, Any]] = []
        for row in rows:
            if self.lanes.start(row["phone_number_id"]):
                started.append(row)
            else:
                over.append((row["id"], row["due_at"]))
        if over:
            await store.unclaim(conn, over)
        return started

    async def _complete_successes(self, items: list[store.Success]) -> list[bool]:
        done = await store.complete_successes(self.es, items)
        return [x.delivery_id in done for x in items]

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop claiming; let attempts in hand finish briefly. Cancelled ones are due again when their lease
        ends (at least once, never lost)."""
        await self.worker.close(grace_s)
        await self._successes.stop()
        await self.sender.close()

    # -- one attempt ------------------------------------------------------------------------------------
    async def _attempt(self, row: asyncpg.Record) -> None:
        healthy: bool | None = None
        try:
            healthy = await self._deliver(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # DB trouble: the lease runs out and the row is tried again
            log.exception("webhook_attempt_crashed", delivery_id=row["id"], error=repr(exc))
        finally:
            self.lanes.finish(row["phone_number_id"], healthy)

    async def _deliver(self, row: asyncpg.Record) -> bool | None:
        """One attempt; whether the receiver looked healthy (None: it was not called)."""
        try:
            route = self.inbound.handoff.take(row["message_id"]) or await self.inbound.resolve(row["to_number"])
        except NumbersUnavailable:
            retry_in = min(self.sender.policy.base_s, 5.0)
            log.warning("webhook_numbers_unavailable", delivery_id=row["id"], retry_in_s=retry_in)
            async with self.es.transaction() as conn:  # not the receiver's fault: not an attempt
                await store.update_delivery(conn, row["id"], attempts=row["attempts"] - 1, next_in_s=retry_in)
            return None
        if route is None or route.org_id != row["org_id"]:
            await self._cancel(row, "the number is no longer the organization's")
            return None
        if not route.inbound_url:
            await self._cancel(row, "the number has no inbound_url")
            return None
        body = model.webhook_body(message_id=row["message_id"], event_id=row["event_id"], from_=row["from_number"],
                                  to=row["to_number"], body=row["body"], received_at=rfc3339(row["received_at"]),
                                  phone_number_id=row["phone_number_id"])
        # signed, and the callback URL rule again, at delivery: resolved once, checked, connected to what was
        # checked (the URL and secrets are the number's now, so a change applies to retries too)
        attempt = await self.sender.post(route.inbound_url, body, route.webhook_secrets, row["event_id"])
        await self._complete(row, attempt)
        return attempt.ok and attempt.latency_ms <= self.settings.inbound_webhook_slow_ms

    async def _complete(self, row: asyncpg.Record, a: Attempt) -> None:
        ok, status, latency_ms, error = a.ok, a.status, a.latency_ms, a.error
        delivery_id = row["id"]
        ids = {"org_id": row["org_id"], "delivery_id": delivery_id, "message_id": row["message_id"],
               "phone_number_id": row["phone_number_id"], "message_event_id": row["event_id"]}
        attempt = row["attempts"]
        record = store.Attempt(row["org_id"], attempt, a.attempted_at, ok, status, latency_ms, error, a.url)
        if ok:  # the common case: group-committed with the other 2xx of the moment, one statement a batch
            ev_ok = WebhookDeliverySucceeded(**ids, attempts=attempt, status_code=status or 0, latency_ms=latency_ms)
            done = await self._successes.submit(store.Success(delivery_id, row["generation"], record, ev_ok))
            log.info("webhook_attempted", delivery_id=delivery_id, message_id=row["message_id"], attempt=attempt,
                     ok=True, status=status, latency_ms=latency_ms, history_only=not done)
            return
        async with self.es.transaction() as conn:
            cur = await store.lock_for_completion(conn, delivery_id)
            w = Write().project(store.attempt_row(delivery_id, record))
            next_at: datetime | None = None
            # (unless a redelivery restarted it meanwhile: then this attempt is history only)
            if cur["state"] == "pending" and cur["generation"] == row["generation"]:
                next_at = self._failed(w, cur, ids, attempt, a)
            await self.es.write(w, conn)
        log.info("webhook_attempted", delivery_id=delivery_id, message_id=row["message_id"], attempt=attempt,
                 ok=ok, status=status, latency_ms=latency_ms, error=error, next_attempt_at=next_at)

    def _failed(self, w: Write, cur: asyncpg.Record, ids: dict[str, Any], attempt: int, a: Attempt) -> datetime | None:
        """A failed attempt of a pending delivery into ``w``: retried later, or failed for good. Answers
        when the next attempt is due."""
        delivery_id, status, latency_ms, error = ids["delivery_id"], a.status, a.latency_ms, a.error
        failures = cur["retry_count"] + 1
        # the URL may change before the next attempt: a refused one is retried too
        delay = self.sender.verdict(a, failures, cur["elapsed_s"], self.rng.random(), final_on_refusal=False).delay_s
        next_at = None if delay is None else utcnow() + timedelta(seconds=delay)
        events: list[Event] = [WebhookDeliveryAttempted(**ids, attempt=attempt, status_code=status,
                                                        latency_ms=latency_ms, error=error, next_attempt_at=next_at)]
        if delay is None:
            w.project(store.delivery_change(delivery_id, state="failed", completed_at=utcnow(), next_attempt_at=None,
                                            retry_count=failures, last_status_code=status, last_error=error))
            events.append(WebhookDeliveryFailed(**ids, attempts=attempt, last_status_code=status, last_error=error))
        else:
            w.project(store.delivery_change(delivery_id, retry_count=failures, last_status_code=status,
                                            last_error=error, next_in_s=delay))
        w.append(store.stream_id(delivery_id), cur["version"], events)
        return next_at

    async def _cancel(self, row: asyncpg.Record, reason: str) -> None:
        async with self.es.transaction() as conn:
            cur = await store.lock_for_completion(conn, row["id"])
            if cur["state"] != "pending" or cur["generation"] != row["generation"]:
                return
            await self.es.write(Write().project(store.delivery_change(
                row["id"], state="cancelled", completed_at=utcnow(), next_attempt_at=None, last_error=reason))
                .append(store.stream_id(row["id"]), cur["version"], [WebhookDeliveryCancelled(
                    org_id=row["org_id"], delivery_id=row["id"], message_id=row["message_id"],
                    phone_number_id=row["phone_number_id"], message_event_id=row["event_id"], reason=reason)]), conn)
        log.info("webhook_cancelled", delivery_id=row["id"], reason=reason)
