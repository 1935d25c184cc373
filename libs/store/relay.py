"""The outbox relay: publishes committed events to JetStream in position order.

Its to-do list is the ``outbox`` table, which a trigger on ``events`` fills in the appending statement's
own transaction; what JetStream acknowledged is deleted from it — by the round after, in the statement that
reads that round's events (one round trip a round, not two), or within ``DELETE_WITHIN_S`` when none comes.
Woken by LISTEN/NOTIFY, with a periodic sweep for anything left behind. Only the holder of an advisory lock
relays, so two replicas never race.
``Nats-Msg-Id`` = event id makes a re-publish after a crash (published to NATS, not yet deleted from the
outbox) harmless within the stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client

from libs.bus.rpc import RpcClient
from libs.obs.metrics import EVENTS_PUBLISHED, EVENTS_RELAYED
from proto.subjects import Subjects

log = structlog.get_logger(__name__)
_headers = msgspec.json.Decoder(dict[str, str]).decode


class _PubAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: dict[str, Any] | None = None


_ack = msgspec.json.Decoder(_PubAck).decode

DELETE_WITHIN_S = 0.02
"""How long events JetStream acknowledged stay in the outbox at most when no round comes to delete them with
its read: under load the next commit comes sooner, and its round deletes them for nothing."""

_ROUND = (
    # what the last round published leaves the outbox, and the next events are read, in one statement
    # (its snapshot still sees the rows it deletes, hence the exclusion); the positions first, then an
    # index lookup of just those events: planned as a join, this became a merge or hash join reading every
    # event ever appended, on every call
    "WITH done AS (DELETE FROM outbox WHERE position = ANY($2::bigint[]))"
    " SELECT position, event_id::text AS event_id, subject, data::text AS data, headers::text AS headers"
    " FROM events WHERE position = ANY(ARRAY(SELECT position FROM outbox WHERE position <> ALL($2::bigint[])"
    " ORDER BY position LIMIT $1)) ORDER BY position"
)


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        nc: Client,
        schema: str,
        service: str,
        *,
        batch: int = 100,
        sweep_interval: float = 0.5,
    ):
        self.pool = pool
        # JetStream publishes as plain requests on our own reply subscription: nats-py's js.publish
        # costs an OS random token, a wait_for and a json.loads per event, and the relay's rounds
        # share the event loop with the service's requests
        self._requests = RpcClient(nc, Subjects("relay"))
        self.publish_timeout = 5.0
        self.schema = schema
        self.service = service
        self.batch = batch
        self.sweep_interval = sweep_interval
        self.channel = f"{schema}_events"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._leads = False
        self._published: list[int] = []
        """The positions JetStream acknowledged that are still in the outbox (the next round deletes them)."""
        self.lock_key = int.from_bytes(
            hashlib.sha256(f"relay:{schema}".encode()).digest()[:8], "big", signed=True
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"relay-{self.schema}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def leads(self) -> bool:
        """True while this relay holds the lead: the writers of this process wake it directly after
        commit (it is their ``Waker``, see libs/store/eventstore.py) instead of a NOTIFY."""
        return self._leads

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, NATS down: back off and take the lead again
                log.warning("relay_error", schema=self.schema, error=repr(exc))
                await asyncio.sleep(1.0)

    async def _lead(self) -> None:
        async with self.pool.acquire() as listen_conn:
            listen_conn.hold_session_state()
            while not await listen_conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                await asyncio.sleep(2.0)  # another replica relays
            await listen_conn.add_listener(self.channel, self._notified)
            self._leads = True
            try:
                while not self._stopping:
                    self._wake.clear()  # before the round: a commit during it wakes the next one
                    if await self.publish_pending() >= self.batch:
                        continue
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the stop's cancellation
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(DELETE_WITHIN_S if self._published else self.sweep_interval):
                            await self._wake.wait()
            finally:
                self._leads = False
                with contextlib.suppress(Exception):
                    await listen_conn.remove_listener(self.channel, self._notified)
                    await listen_conn.execute("SELECT pg_advisory_unlock($1)", self.lock_key)

    async def flush(self) -> None:
        """Publish what is pending until nothing is, and leave the outbox empty of what was published."""
        while await self.publish_pending() or self._published:
            pass

    async def publish_pending(self) -> int:
        """One round: the last round's events deleted from the outbox, the next ones (up to ``batch``)
        read and published; answers how many were published."""
        async with self.pool.acquire() as conn:
            done, self._published = self._published, []
            try:
                rows = await conn.fetch(_ROUND, self.batch, done)
            except BaseException:
                self._published = done + self._published  # (still to delete: published, not deleted)
                raise
            if not rows:
                return 0
            futures = []
            for r in rows:
                hdrs: dict[str, str] = _headers(r["headers"])  # traceparent, correlation, causation
                hdrs["Nats-Msg-Id"] = r["event_id"]
                futures.append(self._requests.request(r["subject"], r["data"].encode(), self.publish_timeout, hdrs))
            # Started in position order, so they reach the server in position order.
            for reply in await asyncio.gather(*futures):
                ack = _ack(reply.data)
                if ack.error is not None or not ack.stream:
                    raise RuntimeError(f"JetStream refused an event: {ack.error or reply.data[:200]!r}")
            self._published = [r["position"] for r in rows]
            EVENTS_PUBLISHED.labels(self.service).inc(len(rows))
            by_type: dict[str, int] = {}  # root.domain.aggregate.event.org -> aggregate.event (a bounded set)
            for r in rows:
                parts = r["subject"].split(".", 4)
                if len(parts) >= 4:
                    key = f"{parts[2]}.{parts[3]}"
                    by_type[key] = by_type.get(key, 0) + 1
            for key, n in by_type.items():
                EVENTS_RELAYED.labels(self.service, key).inc(n)
            return len(rows)
