"""Status callbacks: every status change of a message with a status_callback_url (its own, or the
sending number's default) is POSTed there as ``{event_id, type: "message.status", occurred_at,
message}``, signed ``X-AmCore-Signature`` with the sending number's webhook secrets (one ``v1=`` per
active secret) — or, for a number without one, the organization's callback secret
(``GET /v1/messages/callback-secret``). At least once, in order per message, retried with exponential
backoff and jitter for ``callback_retry_window_s``; a 2xx within ``callback_timeout_s`` is success.
Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any replica may deliver and the dispatcher never
waits on a receiver."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets as pysecrets
import time
from datetime import timedelta

import aiohttp
import asyncpg
import structlog

from libs.bus.rpc import RpcClient
from libs.runtime.waiting import woken
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.webhooks import urls
from libs.webhooks.signing import HEADER, sign
from proto.base import CommandError, utcnow
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.events.outbound import StatusCallbackAttempted
from services.outbound import model, store
from services.outbound.config import OutboundSettings

log = structlog.get_logger(__name__)

_CLAIM = (
    "UPDATE status_callbacks SET claimed_until = now() + make_interval(secs => $2)"
    " WHERE id IN (SELECT c.id FROM status_callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= now()"
    " AND (c.claimed_until IS NULL OR c.claimed_until < now())"
    " AND NOT EXISTS (SELECT 1 FROM status_callbacks p WHERE p.message_id = c.message_id AND p.state = 'pending'"
    " AND p.seq < c.seq)"
    " ORDER BY c.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id::text AS id, org_id::text AS org_id, message_id::text AS message_id, from_number, status, url,"
    " body, attempts, created_at"
)


class CallbackSender:
    def __init__(self, es: EventStore, rpc: RpcClient, settings: OutboundSettings):
        self.es = es
        self.rpc = rpc
        self.s = settings
        self.inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._secrets: dict[tuple[str, str], tuple[list[str], float]] = {}
        self._session: aiohttp.ClientSession | None = None

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = urls.new_session(self.s.env, self.s.callback_timeout_s)
        return self._session

    async def run(self) -> None:
        channel = store.callback_channel(self.es.schema)
        async with self.es.pool.acquire() as listen_conn:
            listen_conn.hold_session_state()
            await listen_conn.add_listener(channel, self.wake)
            try:
                while True:
                    self._wake.clear()
                    free = self.s.callback_concurrency - len(self.inflight)
                    if free > 0:
                        rows = await self.es.pool.fetch(_CLAIM, free, self.s.callback_timeout_s + 30.0)
                        for row in rows:
                            task = asyncio.create_task(self._deliver(row))
                            self.inflight.add(task)
                            task.add_done_callback(self._done)
                    await woken(self._wake, 0.5)
            finally:
                for t in list(self.inflight):
                    t.cancel()
                await asyncio.gather(*self.inflight, return_exceptions=True)
                with contextlib.suppress(Exception):
                    await listen_conn.remove_listener(channel, self.wake)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        self._wake.set()  # a slot is free; later callbacks of that message may be due

    async def signing_secrets(self, org_id: str, from_number: str) -> list[str]:
        """The number's webhook secrets (newest first), else the organization's callback secret."""
        key = (org_id, from_number)
        hit = self._secrets.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        found: list[str] = []
        try:
            info: SenderInfo = await self.rpc.call(SenderStatus(org_id=org_id, e164=from_number))
            found = list(info.webhook_secrets)
        except CommandError as exc:
            if exc.code != "NOT_FOUND":  # numbers unavailable: do not sign with the wrong secret, retry later
                raise
        if not found:
            found = [await store.org_secret(self.es.pool, org_id, "whsec_" + pysecrets.token_urlsafe(32))]
        self._secrets[key] = (found, time.monotonic() + self.s.sender_cache_s)
        return found

    async def _deliver(self, row: asyncpg.Record) -> None:
        """One attempt, under the callback URL rule (libs.webhooks.urls): the host is resolved once,
        every address checked, and the POST goes to exactly those addresses."""
        started = time.perf_counter()
        code, error, refused = 0, "", False
        try:
            secrets = await self.signing_secrets(row["org_id"], row["from_number"])
            body: bytes = row["body"]
            headers = {"Content-Type": "application/json", HEADER: sign(secrets, body),
                       "User-Agent": "AgentMessage-Callbacks/1", "X-AmCore-Event-Id": row["id"]}
            out = await urls.post(self._http(), row["url"], body, headers, self.s.env)
            code, error, refused = out.status or 0, out.error or "", out.refused
        except asyncio.CancelledError:
            raise
        except CommandError as exc:
            error = f"signing secrets unavailable: {exc.code}"
        latency = int((time.perf_counter() - started) * 1000)
        await self._record(row, code, error, latency, refused)

    async def _record(self, row: asyncpg.Record, code: int, error: str, latency_ms: int,
                      permanent: bool = False) -> None:
        attempt = row["attempts"] + 1
        now = utcnow()
        ok = 200 <= code < 300
        if ok:
            outcome = "delivered"
        elif permanent or now - row["created_at"] >= timedelta(seconds=self.s.callback_retry_window_s):
            outcome = "failed"
        else:
            outcome = "retrying"
        delay = model.retry_delay(attempt, self.s.callback_retry_base_s, self.s.callback_retry_cap_s, random.random())
        async with self.es.transaction() as conn:
            await conn.execute(
                "UPDATE status_callbacks SET attempts = $2, state = $3, last_status_code = $4, last_error = $5,"
                " next_attempt_at = $6, claimed_until = NULL, finished_at = $7 WHERE id = $1::uuid",
                row["id"], attempt, "pending" if outcome == "retrying" else outcome, code or None, error or None,
                now + timedelta(seconds=delay), None if outcome == "retrying" else now,
            )
            ev = StatusCallbackAttempted(org_id=row["org_id"], message_id=row["message_id"], callback_id=row["id"],
                                         status=row["status"], url=row["url"], attempt=attempt, outcome=outcome,
                                         status_code=code, error=error, latency_ms=latency_ms)
            with contextlib.suppress(ConcurrencyError):
                await self.es.append(conn, f"status-callback-{row['id']}", row["attempts"], [ev])
        log.info("status_callback_attempted", callback_id=row["id"], message_id=row["message_id"], attempt=attempt,
                 outcome=outcome, status_code=code, latency_ms=latency_ms)
