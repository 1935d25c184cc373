"""Durable pull consumers: explicit ack after commit, nak(delay) with backoff on transient errors,
term() plus a dead-letter record for an undecodable or poison message. A consumer names the event classes
it takes; the stream and the server-side filter follow from them, and any other event that still reaches it
(a filter narrowed after it was delivered) is acknowledged without being handled."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from libs.backoff import backoff
from libs.bus.conn import SETUP_API_TIMEOUT_S
from libs.obs.metrics import MESSAGES_CONSUMED
from libs.obs.tracing import server_span
from proto.base import Event
from proto.events import decode_event
from proto.subjects import Subjects

log = structlog.get_logger(__name__)

Handler = Callable[[Event], Awaitable[None]]


class Permanent(Exception):
    """A handler's verdict that retrying cannot help: the message is dead-lettered at once."""


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    """``<service>-<purpose>``. A durable name never changes: renaming one replays the stream."""
    events: tuple[type[Event], ...]
    """The event classes it takes, all of one producing domain (whose stream is read). The server filters on
    their subjects (``<root>.<DOMAIN>.<AGGREGATE>.<event>.*``), so it skips the rest for this consumer."""
    handler: Handler
    """Called with events of those classes only."""
    max_deliver: int = 20
    """After this many deliveries the message is dead-lettered and terminated."""
    ack_wait_s: float = 30.0
    max_ack_pending: int = 1000
    batch: int = 64
    backoff_base_s: float = 0.25
    """nak delay = base * 2^(deliveries-1), capped at 30 s."""
    fetch_timeout_s: float = 1.0
    """How long one fetch waits for a first message while nothing is waiting. It answers as soon as one
    arrives, with what is there then (the server ends a waiting fetch once it has handed over what it has;
    libs/tests/test_consumer_wake.py), so this is not a latency: a shorter one only costs an idle
    consumer a fetch request that often."""
    deliver_new: bool = False
    """Start at new messages instead of the stream's beginning (for live, cache-like consumers)."""
    absorb: Callable[[list[Event]], Awaitable[set[str]]] | None = None
    """Optional bulk path: given each fetched batch (in stream order), it handles what it can together and
    answers those event ids, which are then acknowledged; the others go through ``handler`` one by one.
    Only for work whose order against the batch's other events does not matter. If it raises, the whole
    batch goes through ``handler`` (which must be idempotent anyway)."""


    pipeline: int = 1
    """Fetched batches in hand at once (with ``absorb``). With 2, the next batch is fetched, and its
    ``absorb`` called, while the previous one's is still at work (waiting on a commit): calls start in
    stream order, each once the one before has run up to its first wait — what a call queues before that
    stays in order — and each batch is acknowledged when its own call is done. What a call does not take
    goes one by one only after the batch before it is done, and no call starts beside a batch going one
    by one: an ``absorb`` that fails must keep the calls that overlapped it from committing ahead of what
    it hands on (as inbound's writer does, services/inbound/ingest.py)."""

    def __post_init__(self) -> None:
        domains = {e.DOMAIN for e in self.events}
        if len(domains) != 1 or not all(e.DOMAIN and e.AGGREGATE for e in self.events):
            raise ValueError(f"{self.durable}: the events of one consumer come from one domain's stream, "
                             f"got {[e.__name__ for e in self.events]}")

    @property
    def domain(self) -> str:
        """The producing domain whose stream is read."""
        return self.events[0].DOMAIN

    def filters(self, subjects: Subjects) -> list[str]:
        return [subjects.of(e) for e in self.events]


class ConsumerRunner:
    def __init__(self, nc: Client, subjects: Subjects, pool: asyncpg.Pool | None, spec: ConsumerSpec):
        self.nc = nc
        self.subjects = subjects
        self.pool = pool
        self.spec = spec
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._fetching = False
        """The loop waits in a fetch: with no batch in hand besides, a stop need not wait for it to time out."""
        self._inflight: deque[asyncio.Task[None]] = deque()
        """Pipelined batches in hand."""
        self._takes = frozenset(spec.events)

    async def start(self) -> None:
        js = self.nc.jetstream(timeout=SETUP_API_TIMEOUT_S)
        subjects = self.spec.filters(self.subjects)
        cfg = ConsumerConfig(
            name=self.spec.durable,
            durable_name=self.spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.spec.ack_wait_s,
            max_deliver=self.spec.max_deliver + 1,  # we term() ourselves at max_deliver
            max_ack_pending=self.spec.max_ack_pending,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
            deliver_policy=DeliverPolicy.NEW if self.spec.deliver_new else DeliverPolicy.ALL,
        )
        stream = self.subjects.stream_name(self.spec.domain)
        # create, or update an existing durable to this spec (a narrowed filter, a new limit): it keeps
        # its position in the stream either way
        await js.add_consumer(stream, config=cfg)
        self._sub = await js.pull_subscribe_bind(durable=self.spec.durable, stream=stream)
        self._task = asyncio.create_task(self._loop(), name=f"consumer-{self.spec.durable}")

    async def stop(self) -> None:
        """Finish the message in hand, then stop fetching. A fetch still waiting for messages is cut short
        (not waited out): what reached this subscription but was not handed over is nak'd, so it goes to
        another replica at once; what the cut fetch held is redelivered after ``ack_wait_s``, as after a crash."""
        self._stopping.set()
        if self._task:
            if self._fetching and all(t.done() for t in self._inflight):
                self._task.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        await self._nak_undelivered()
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()  # a pull subscription left open stalls the connection's drain

    async def _nak_undelivered(self) -> None:
        """Messages the server sent to this subscription that no fetch handed over (a cut fetch's), nak'd."""
        queue: asyncio.Queue[Msg] | None = getattr(getattr(self._sub, "_sub", None), "_pending_queue", None)
        while queue is not None and not queue.empty():
            msg = queue.get_nowait()
            if msg.reply and msg.reply.startswith("$JS.ACK."):  # not a status message (no messages, timeout)
                with contextlib.suppress(Exception):
                    await msg.nak()

    async def _loop(self) -> None:
        pipelined = self.spec.absorb is not None and self.spec.pipeline > 1
        inflight = self._inflight
        previous: tuple[asyncio.Task[None], asyncio.Event] | None = None
        try:
            while not self._stopping.is_set():
                self._fetching = True
                try:
                    msgs = await self._sub.fetch(self.spec.batch, timeout=self.spec.fetch_timeout_s)
                except TimeoutError:  # nats' own and asyncio's: a fetch that ran out of time is no failure
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("consumer_fetch_failed", consumer=self.spec.durable, error=repr(exc))
                    await asyncio.sleep(0.5)
                    continue
                finally:
                    self._fetching = False
                if not msgs:  # (a fetch can end with a status and nothing: no round for it)
                    continue
                if pipelined:  # (one message too goes through absorb: in order behind the batches in hand)
                    absorbed = asyncio.Event()
                    inflight.append(asyncio.create_task(self._batch(msgs, previous, absorbed)))
                    previous = (inflight[-1], absorbed)
                    while inflight and (inflight[0].done() or len(inflight) >= self.spec.pipeline):
                        await inflight.popleft()
                elif self.spec.absorb is None:
                    for msg in msgs:
                        await self.handle(msg)
                else:  # (one message too: a bulk path's one statement costs less than the handler's transaction)
                    await self._batch(msgs)
        finally:  # the batches in hand are finished (or, cancelled, nak'd by their handlers)
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)

    async def _batch(self, msgs: list[Msg], before: tuple[asyncio.Task[None], asyncio.Event] | None = None,
                     done: asyncio.Event | None = None) -> None:
        """A fetched batch through ``absorb``; what it did not take goes through the handler one by one.
        Pipelined, ``before`` is the batch in hand before it (with its ``done``, set once its absorb
        returned): this batch's own one by one goes after all of that one's, and its absorb starts only
        while that one's is still at work (else once that batch is done) — never beside a batch going
        one by one, so nothing after it in the stream is absorbed ahead of what it hands on."""
        events: list[tuple[Msg, Event | None]] = []
        for msg in msgs:
            try:
                events.append((msg, decode_event(msg.data)))
            except (msgspec.DecodeError, msgspec.ValidationError):
                events.append((msg, None))  # handle() dead-letters it
        if before is not None and before[1].is_set():
            await asyncio.wait({before[0]})
        absorbed = await self._absorb([ev for _, ev in events if ev is not None and type(ev) in self._takes])
        if done is not None:
            done.set()
        if before is not None:
            await asyncio.wait({before[0]})
        for msg, ev in events:
            if ev is not None and ev.event_id in absorbed:
                await msg.ack()
                MESSAGES_CONSUMED.labels(self.spec.durable, "ok").inc()
            else:
                await self.handle(msg, ev)

    async def _absorb(self, events: list[Event]) -> set[str]:
        """The event ids the spec's bulk path handled (none if it failed: then all go one by one)."""
        assert self.spec.absorb is not None
        try:
            return await self.spec.absorb(events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("consumer_absorb_failed", consumer=self.spec.durable, error=repr(exc))
            return set()

    async def handle(self, msg: Msg, event: Event | None = None) -> None:
        """One message (``event``: already decoded from it, if it was)."""
        spec = self.spec
        delivered = msg.metadata.num_delivered
        if event is None:
            try:
                event = decode_event(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                await self._dead_letter(msg, f"undecodable: {exc}")
                return
        with server_span(f"consume {spec.durable}", msg.headers):
            await self._handle(msg, event, delivered)

    async def _handle(self, msg: Msg, event: Event, delivered: int) -> None:
        spec = self.spec
        if type(event) not in self._takes:
            await msg.ack()  # not one of the spec's events: the server's filter let it through, it is not ours
            MESSAGES_CONSUMED.labels(spec.durable, "skipped").inc()
            log.info("event_skipped", consumer=spec.durable, type=event.type_name(), event_id=event.event_id)
            return
        try:
            started = time.perf_counter()
            await spec.handler(event)
            await msg.ack()
            MESSAGES_CONSUMED.labels(spec.durable, "ok").inc()
            log.debug("event_handled", consumer=spec.durable, type=event.type_name(), event_id=event.event_id,
                      org_id=event.org_id, delivered=delivered, ms=round((time.perf_counter() - started) * 1000, 2))
        except Permanent as exc:
            await self._dead_letter(msg, f"permanent: {exc}")
        except asyncio.CancelledError:
            await msg.nak()
            raise
        except Exception as exc:
            if delivered >= spec.max_deliver:
                await self._dead_letter(msg, f"max deliveries reached: {exc!r}")
                return
            delay = backoff(delivered, spec.backoff_base_s, 30.0)
            log.warning(
                "consumer_retry",
                consumer=spec.durable,
                event_id=event.event_id,
                delivered=delivered,
                delay_s=delay,
                error=repr(exc),
            )
            MESSAGES_CONSUMED.labels(spec.durable, "retry").inc()
            await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        log.error("consumer_dead_letter", consumer=self.spec.durable, subject=msg.subject, reason=reason)
        MESSAGES_CONSUMED.labels(self.spec.durable, "dead_letter").inc()
        if self.pool is not None:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO dead_letters (consumer, subject, stream_seq, reason, payload, headers)"
                    " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                    self.spec.durable,
                    msg.subject,
                    msg.metadata.sequence.stream,
                    reason[:2000],
                    msg.data,
                    msgspec.json.encode(dict(msg.headers or {})).decode(),
                )
        await msg.term()
