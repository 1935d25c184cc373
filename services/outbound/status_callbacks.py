"""Status callbacks: every status change of a message with a status_callback_url (its own, or the
sending number's default) is POSTed there as ``{event_id, type: "message.status", occurred_at,
message}``, signed ``X-AmCore-Signature`` with the sending number's webhook secrets (one ``v1=`` per
active secret) — or, for a number without one, the organization's callback secret
(``GET /v1/messages/callback-secret``). At least once, in order per message, retried with exponential
backoff and jitter for ``callback_retry_window_s``; a 2xx within ``callback_timeout_s`` is success.
The ``status_callbacks`` table is a :mod:`libs.workqueue` queue (claimed with ``FOR UPDATE SKIP LOCKED``
and a ``claimed_until`` lease, so any replica may deliver and the dispatcher never waits on a receiver);
the POST is :mod:`libs.webhooks.sender`'s."""

from __future__ import annotations

import contextlib
import random
import secrets as pysecrets

import asyncpg

from libs.backoff import RetryPolicy
from libs.bus.rpc import RpcClient
from libs.cache import TtlCache
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.webhooks.sender import Attempt, WebhookSender
from libs.workqueue import QueueWorker, WorkQueue
from proto.base import CommandError, utcnow
from proto.commands.numbers import SenderStatus
from proto.events.outbound import StatusCallbackAttempted
from services.outbound import store
from services.outbound.config import OutboundSettings

QUEUE = WorkQueue(
    "status_callbacks",
    "w.id::text AS id, w.org_id::text AS org_id, w.message_id::text AS message_id, w.from_number, w.status, w.url,"
    " w.body, w.attempts, w.created_at",
    lease_column="claimed_until", count_attempts=False,
    # in order per message: a callback waits while an earlier one of its message is pending
    claimable="NOT EXISTS (SELECT 1 FROM status_callbacks p WHERE p.message_id = q.message_id AND p.state = 'pending'"
              " AND p.seq < q.seq)")


class CallbackSender:
    def __init__(self, es: EventStore, rpc: RpcClient, settings: OutboundSettings):
        self.es = es
        self.rpc = rpc
        self.s = settings
        self._secrets: TtlCache[tuple[str, str], list[str]] = TtlCache(settings.sender_cache_s)
        self.sender = WebhookSender(
            "message_status", settings.env, settings.callback_timeout_s,
            RetryPolicy(settings.callback_retry_base_s, settings.callback_retry_cap_s, settings.callback_retry_window_s),
            user_agent="AgentMessage-Callbacks/1")
        self.worker = QueueWorker("status-callbacks", QUEUE, es.pool, self._deliver,
                                  concurrency=settings.callback_concurrency, lease_s=settings.callback_timeout_s + 30.0,
                                  poll_s=0.5, channel=store.callback_channel(es.schema))

    def wake(self, *_: object) -> None:
        self.worker.wake()

    async def close(self) -> None:
        await self.worker.close()
        await self.sender.close()

    async def run(self) -> None:
        await self.worker.run()

    async def signing_secrets(self, org_id: str, from_number: str) -> list[str]:
        """The number's webhook secrets (newest first), else the organization's callback secret."""
        return await self._secrets.load((org_id, from_number), lambda: self._fetch_secrets(org_id, from_number))

    async def _fetch_secrets(self, org_id: str, from_number: str) -> list[str]:
        found: list[str] = []
        try:
            info = await self.rpc.call(SenderStatus(org_id=org_id, e164=from_number))
            found = list(info.webhook_secrets)
        except CommandError as exc:
            if exc.code != "NOT_FOUND":  # numbers unavailable: do not sign with the wrong secret, retry later
                raise
        if not found:
            found = [await store.org_secret(self.es.pool, org_id, "whsec_" + pysecrets.token_urlsafe(32))]
        return found

    async def _deliver(self, row: asyncpg.Record) -> None:
        """One attempt, signed, under the callback URL rule; its outcome recorded with its event."""
        try:
            secrets = await self.signing_secrets(row["org_id"], row["from_number"])
        except CommandError as exc:
            attempt = Attempt(row["url"], utcnow(), None, f"signing secrets unavailable: {exc.code}", 0)
        else:
            attempt = await self.sender.post(row["url"], row["body"], secrets, row["id"])
        await self._record(row, attempt)

    async def _record(self, row: asyncpg.Record, attempt: Attempt) -> None:
        number = row["attempts"] + 1
        elapsed_s = (utcnow() - row["created_at"]).total_seconds()
        verdict = self.sender.verdict(attempt, number, elapsed_s, random.random())
        # the event says "" and 0 where nothing was learnt (an HTTP answer's error is its status code)
        code = attempt.status or 0
        error = "" if attempt.status is not None else attempt.error or ""
        async with self.es.transaction() as conn:
            if verdict.delay_s is not None:
                await QUEUE.retry(conn, row["id"], verdict.delay_s, attempts=number, last_status_code=code or None,
                                  last_error=error or None)
            else:  # delivered, or the dead letter: failed
                await QUEUE.finish(conn, row["id"], attempts=number, state=verdict.outcome, finished_at=utcnow(),
                                   last_status_code=code or None, last_error=error or None)
            ev = StatusCallbackAttempted(org_id=row["org_id"], message_id=row["message_id"], callback_id=row["id"],
                                         status=row["status"], url=row["url"], attempt=number, outcome=verdict.outcome,
                                         status_code=code, error=error, latency_ms=attempt.latency_ms)
            with contextlib.suppress(ConcurrencyError):
                await self.es.append(conn, f"status-callback-{row['id']}", row["attempts"], [ev])
        self.sender.logged(row["id"], number, attempt, verdict.outcome, message_id=row["message_id"])
