"""inbound command handlers: ingest a carrier MO exactly once, read messages, show and restart deliveries.

Each write appends its event and updates the read model (and the delivery queue) in one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.bus.rpc import RpcClient
from libs.cache import TtlCache, evict_on
from libs.otp import find_otp
from libs.phone import normalize_sender
from libs.store import Write, sql
from libs.store.eventstore import EventStore
from proto.base import CommandError, NotFound, new_id, parse_uuid, rfc3339, utcnow
from proto.commands import inbound as c
from proto.commands.compliance import ScreenInbound
from proto.commands.numbers import InboundRoute, ResolveInbound
from proto.events import decode_event
from proto.events.carrier import InboundTextReceived
from proto.events.inbound import (
    UNROUTED_ORG,
    InboundMessageReceived,
    RedeliveryRequested,
    UnroutedMessageReceived,
)
from proto.http.inbound import DeliveriesView, DeliveryAttemptView, InboundMessageView
from proto.subjects import Subjects
from services.inbound import model, store
from services.inbound.config import InboundSettings
from services.inbound.ingest import IngestWriter, Stalled

log = structlog.get_logger(__name__)

Queued = tuple[asyncio.Future[bool | None], store.NewMessage, InboundRoute | None]
"""A text queued for the writer: its commit's outcome (``IngestWriter.enqueue``), its message, its route."""


class Unavailable(Exception):
    """A message cannot be stored right now: the carrier must retry the callback."""


class HeldBack(Unavailable):
    """An earlier text that came with this one, or just before it, could not be stored: this one goes
    again after it (one by one), never ahead of it in its conversation."""


class WaitsInConversation(HeldBack):
    """An earlier text of its conversation could not be stored even one by one and comes again later
    (``ingest.Stalled``): this one waits behind it."""


class NumbersUnavailable(Unavailable):
    """Nobody could say who owns the number right now: the carrier must retry the callback."""


class ComplianceUnavailable(Unavailable):
    """Compliance did not record the messages' keyword effects: they are not stored (not visible), and
    the carrier retries."""


_MO_EVENT_IDS = uuid.UUID("6f3e2a55-0d7b-4c1e-9a38-5b1f0c7d2e41")


def mo_event_id(carrier_message_id: str) -> str:
    """The event id of a carrier message, the same on every retry of its callback: compliance's
    record of a keyword is keyed on it, so a retry after a failed commit never applies it twice (and a
    webhook receiver dedupes on it)."""
    return str(uuid.uuid5(_MO_EVENT_IDS, carrier_message_id))


async def _answer(outcome: Awaitable[str]) -> str | BaseException:
    try:
        return await outcome
    except Exception as exc:
        return exc


def message_view(r: asyncpg.Record) -> InboundMessageView:
    return InboundMessageView(id=r["id"], from_=r["from_number"], to=r["to_number"], body=r["body"],
                              received_at=rfc3339(r["received_at"]), otp=find_otp(r["body"]) or msgspec.UNSET)


_CODE_SCAN = 1000
"""Messages read at most per request for ``otp=true`` (codes are found in the text, not indexed)."""


class Inbound:
    def __init__(self, es: EventStore, rpc: RpcClient, settings: InboundSettings,
                 on_queued: Callable[[str], None] = lambda delivery_id: None):
        self.store = es
        self.pool: asyncpg.Pool = es.pool
        self.rpc = rpc
        self.settings = settings
        self.on_queued = on_queued
        """Hands a delivery just committed to this replica's delivery worker (``DeliveryWorker.offer``)."""
        self.handoff: TtlCache[str, InboundRoute] = TtlCache(settings.inbound_route_handoff_s, max_entries=10_000)
        """The route resolved while storing a message, taken by its first delivery attempt moments later so
        that attempt need not ask numbers again. Used once, only while fresh; never persisted (it holds the
        webhook secrets)."""
        self._routes: TtlCache[str, InboundRoute] = TtlCache(settings.inbound_route_cache_s)
        self.writer = IngestWriter(es, self._screen)
        self.stalled = Stalled()
        self._turn: asyncio.Future[None] | None = None
        """Set once the last ``ingest_many`` call has queued its messages."""

    async def resolve(self, e164: str) -> InboundRoute | None:
        """The number's owner and webhook now; None when nobody owns it. Raises NumbersUnavailable."""
        hit = self._routes.get(e164)
        if hit is not None:
            return hit
        generation = self._routes.generation(e164)
        route = await self._ask(e164)
        if route is not None:
            self._routes.put_if_current(e164, route, generation)
        return route

    async def _screen(self, messages: list[InboundMessageReceived]) -> None:
        try:
            await self.rpc.call(ScreenInbound(messages=messages),
                                timeout=self.settings.inbound_screen_timeout_s)
        except CommandError as exc:
            raise ComplianceUnavailable(exc.code) from exc

    def forget(self, e164: str) -> None:
        self._routes.evict(e164)

    async def follow_numbers(self, nc: Client, subjects: Subjects) -> None:
        """Evict a number's cached route on any change to it (configured, rotated, released, ordered)."""

        def evict(msg: Msg) -> None:
            e164 = getattr(decode_event(msg.data), "e164", None)
            if isinstance(e164, str):
                self.forget(e164)

        await evict_on(nc, subjects.event("numbers", "phone_number", "*", "*"), evict)

    async def _ask(self, e164: str) -> InboundRoute | None:
        try:
            route: InboundRoute = await self.rpc.call(ResolveInbound(e164=e164),
                                                      timeout=self.settings.inbound_resolve_timeout_s)
        except CommandError as exc:
            if exc.status == 404:
                return None
            raise NumbersUnavailable(exc.code) from exc
        return route

    # -- ingest ---------------------------------------------------------------------------------------
    async def ingest(self, mo: InboundTextReceived) -> str:
        """Store one MO: ``stored``, ``unrouted`` or ``duplicate`` (already stored: acknowledge, nothing new).
        A text going one by one (as after its batch failed) is held back only behind an earlier text of its
        conversation that failed one by one too (``WaitsInConversation``, see ``ingest.Stalled``)."""
        conversation = model.conversation_of(mo.to, mo.from_)
        if self.stalled.must_wait(conversation, mo.carrier_message_id):
            raise WaitsInConversation("an earlier text of its conversation could not be stored yet")
        [outcome] = await self.ingest_many([mo], one_by_one=True)
        if isinstance(outcome, BaseException):
            self.stalled.failed(conversation, mo.carrier_message_id)  # its conversation's later texts wait
            raise outcome
        self.stalled.done(conversation, mo.carrier_message_id)
        return outcome

    async def ingest_many(self, mos: list[InboundTextReceived], *, one_by_one: bool = False
                          ) -> list[str | BaseException]:
        """Store MOs in their order, each answered as ``ingest`` does or with its error. Calls may overlap
        (a consumer's next batch while this one commits): each queues its messages for the writer only
        after the call before it queued its own, so a conversation's texts are numbered in arrival order;
        a call overlapping one whose texts could not all be stored stores nothing (``HeldBack``, see
        ``ingest.Holds``), so it cannot overtake their retries."""
        holds = self.writer.holds
        call = holds.start(one_by_one)
        turn, mine = self._turn, asyncio.get_running_loop().create_future()
        self._turn = mine
        try:
            try:
                tos = list({normalize_sender(mo.to) for mo in mos})
                found = await asyncio.gather(*(self.resolve(to) for to in tos), return_exceptions=True)
                routes = dict(zip(tos, found, strict=True))
                if turn is not None:
                    await asyncio.shield(turn)  # (a cancelled wait must not cancel the turn others wait on)
                queued = self._queue_all(mos, routes, call, one_by_one)
            finally:
                mine.set_result(None)
            return [q if isinstance(q, BaseException) else await _answer(self._stored(*q)) for q in queued]
        finally:
            holds.end(call)

    def _queue_all(self, mos: list[InboundTextReceived], routes: dict[str, InboundRoute | BaseException | None],
                   call: int, one_by_one: bool) -> list[Queued | BaseException]:
        if self.writer.holds.held(call):
            return [HeldBack("an earlier text could not be stored") for _ in mos]
        queued = [WaitsInConversation("an earlier text of its conversation could not be stored yet")
                  if self.stalled and not one_by_one and self.stalled.waits(model.conversation_of(mo.to, mo.from_))
                  else self._queued(mo, routes, call) for mo in mos]
        # (a text waiting behind a stalled one holds nothing else back: its conversation's later texts wait
        # too, and they are all stalled in order when they go one by one)
        if any(isinstance(q, BaseException) and not isinstance(q, WaitsInConversation) for q in queued):
            self.writer.holds.hold_from(call + 1)  # the calls already started go after these, one by one
        return queued

    def _queued(self, mo: InboundTextReceived, routes: dict[str, InboundRoute | BaseException | None], call: int
                ) -> Queued | BaseException:
        try:
            return self._queue(mo, routes[normalize_sender(mo.to)], call)
        except Exception as exc:  # this message's own fault: the others still go
            return exc

    def _queue(self, mo: InboundTextReceived, route: InboundRoute | BaseException | None, call: int
               ) -> Queued | BaseException:
        """Build the MO's message and event and queue them for the writer (its commit on the future)."""
        if isinstance(route, BaseException):
            return route
        to, from_ = normalize_sender(mo.to), normalize_sender(mo.from_)
        now = utcnow()
        received_at = mo.received_at
        message_id = new_id()
        event_id = mo_event_id(mo.carrier_message_id)
        org_id = route.org_id if route is not None else UNROUTED_ORG
        ev: InboundMessageReceived | UnroutedMessageReceived
        if route is not None:
            ev = InboundMessageReceived(org_id=org_id, message_id=message_id,
                                        carrier_message_id=mo.carrier_message_id,
                                        phone_number_id=route.phone_number_id, from_=from_, to=to, body=mo.text,
                                        received_at=received_at, occurred_at=now, event_id=event_id)
            stream = f"inbound_message-{message_id}"
        else:
            ev = UnroutedMessageReceived(org_id=org_id, message_id=message_id,
                                         carrier_message_id=mo.carrier_message_id, from_=from_, to=to,
                                         body=mo.text, received_at=received_at, occurred_at=now,
                                         event_id=event_id)
            stream = f"unrouted_message-{message_id}"
        push = route is not None and bool(route.inbound_url)
        new = store.NewMessage(
            message_id=message_id, org_id=org_id, carrier_message_id=mo.carrier_message_id,
            phone_number_id=route.phone_number_id if route else None, event_id=ev.event_id, from_=from_, to=to,
            body=mo.text, received_at=received_at, delivery_id=new_id() if push else None)
        if push:
            assert route is not None
            self.handoff.put(message_id, route)  # before the write: the first attempt may start at commit
        return self.writer.enqueue(new, stream, ev, call), new, route

    async def _stored(self, written: asyncio.Future[bool | None], new: store.NewMessage, route: InboundRoute | None
                      ) -> str:
        done = await written
        if done is None:
            raise HeldBack("an earlier text that came with it could not be stored")
        if not done:
            return "duplicate"  # a retried callback: acknowledged, nothing new
        if route is None:
            log.warning("inbound_unrouted", message_id=new.message_id, to=new.to,
                        carrier_message_id=new.carrier_message_id)
            return "unrouted"
        if new.delivery_id is not None:
            self.on_queued(new.delivery_id)
        log.info("inbound_stored", message_id=new.message_id, org_id=new.org_id, phone_number_id=route.phone_number_id,
                 push=new.delivery_id is not None)
        return "stored"

    # -- reads ----------------------------------------------------------------------------------------
    async def _after_seq(self, org_id: str, after: str) -> int:
        if parse_uuid(after) is not None:
            row = await store.message(self.pool, org_id, after)
            if row is None:
                raise CommandError("VALIDATION_ERROR", "after: no such inbound message", 400, {"field": "after"})
            return int(row["seq"])
        return model.decode_position(after, "after")[1]

    async def list_messages(self, cmd: c.ListInbound) -> c.InboundPage:
        since: datetime | None = None
        if cmd.since:
            since = model.parse_rfc3339(cmd.since)
            if since is None:
                raise CommandError("VALIDATION_ERROR", "since: must be an RFC 3339 time with a zone", 400,
                                   {"field": "since"})
        before_seq = after_seq = None
        if cmd.after:
            after_seq = await self._after_seq(cmd.org_id, cmd.after)
        elif cmd.cursor:
            direction, seq = model.decode_position(cmd.cursor, "cursor")
            if direction == "a":
                after_seq = seq
            else:
                before_seq = seq
        head = model.encode_position("a", await store.head_seq(self.pool, cmd.org_id))
        if cmd.limit <= 0:
            return c.InboundPage(data=[], head=head)
        if cmd.otp:
            return await self._list_codes(cmd, since, before_seq, after_seq, head)
        rows = await store.list_messages(self.pool, cmd.org_id, to=cmd.to, from_=cmd.from_, since=since,
                                         before_seq=before_seq, after_seq=after_seq, limit=cmd.limit + 1)
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        nxt = None
        if more:
            nxt = model.encode_position("a" if after_seq is not None else "b", int(rows[-1]["seq"]))
        return c.InboundPage(data=[message_view(r) for r in rows], next_cursor=nxt, head=head)

    async def _list_codes(self, cmd: c.ListInbound, since: datetime | None, before_seq: int | None,
                          after_seq: int | None, head: str) -> c.InboundPage:
        """Only messages carrying a one-time code: codes are found in the text, so messages are read from
        the position in batches and filtered, at most ``_CODE_SCAN`` per request (a page cut short by
        that limit carries a cursor to go on from)."""
        ascending = after_seq is not None
        found: list[tuple[int, InboundMessageView]] = []
        scanned, last_seq, exhausted = 0, None, False
        while len(found) <= cmd.limit and scanned < _CODE_SCAN:
            rows = await store.list_messages(self.pool, cmd.org_id, to=cmd.to, from_=cmd.from_, since=since,
                                             before_seq=before_seq, after_seq=after_seq, limit=100)
            for r in rows:
                scanned += 1
                last_seq = int(r["seq"])
                view = message_view(r)
                if view.otp is not msgspec.UNSET:
                    found.append((last_seq, view))
                    if len(found) > cmd.limit:
                        break
            if len(found) > cmd.limit:
                break
            if len(rows) < 100:
                exhausted = True
                break
            if ascending:
                after_seq = last_seq
            else:
                before_seq = last_seq
        direction: model.Direction = "a" if ascending else "b"
        nxt: str | None = None
        if len(found) > cmd.limit:
            nxt = model.encode_position(direction, found[cmd.limit - 1][0])
        elif not exhausted and last_seq is not None:
            nxt = model.encode_position(direction, last_seq)
        return c.InboundPage(data=[v for _, v in found[: cmd.limit]], next_cursor=nxt, head=head)

    async def _message(self, org_id: str, message_id: str) -> asyncpg.Record:
        row = await store.message(self.pool, org_id, message_id) if parse_uuid(message_id) else None
        if row is None:
            raise NotFound("inbound message")
        return row

    async def get(self, cmd: c.GetInbound) -> InboundMessageView:
        return message_view(await self._message(cmd.org_id, cmd.message_id))

    async def deliveries(self, cmd: c.GetDeliveries) -> DeliveriesView:
        return await self._deliveries(self.pool, await self._message(cmd.org_id, cmd.message_id))

    async def _deliveries(self, db: asyncpg.Pool | asyncpg.Connection, msg: asyncpg.Record) -> DeliveriesView:
        d = await store.delivery_for_message(db, msg["id"])
        if d is None:
            return DeliveriesView(message_id=msg["id"], event_id=msg["event_id"], state="none", attempt_count=0,
                                  next_attempt_at=None, last_error=None, attempts=[])
        rows = await store.attempts(db, d["id"])
        pending = d["state"] == "pending"
        return DeliveriesView(
            message_id=msg["id"], event_id=msg["event_id"], state=d["state"], attempt_count=len(rows),
            next_attempt_at=rfc3339(d["next_attempt_at"]) if pending and d["next_attempt_at"] else None,
            last_error=d["last_error"],
            attempts=[DeliveryAttemptView(attempt=r["attempt"], attempted_at=rfc3339(r["attempted_at"]),
                                          succeeded=r["succeeded"], status_code=r["status_code"],
                                          latency_ms=r["latency_ms"], error=r["error"], url=r["url"])
                      for r in rows])

    async def redeliver(self, cmd: c.Redeliver) -> DeliveriesView:
        msg = await self._message(cmd.org_id, cmd.message_id)
        try:
            route = await self.resolve(msg["to_number"])
        except NumbersUnavailable as exc:
            raise CommandError("SERVICE_UNAVAILABLE", "numbers is not available, try again", 503) from exc
        if route is None or route.org_id != cmd.org_id or not route.inbound_url:
            raise CommandError("NO_INBOUND_URL", "the number has no inbound_url to deliver to; set one with "
                               "PATCH /v1/phone-numbers/{id}", 409, {"phone_number_id": msg["phone_number_id"]})
        async with self.store.transaction() as conn:
            d = await store.delivery_for_message(conn, msg["id"], lock=True)
            w, version = Write(), None
            if d is None:  # a concurrent first request may queue it first: then it is shared, asked once
                delivery_id, version = new_id(), 0
                w.project(store.queue_delivery(delivery_id=delivery_id, org_id=cmd.org_id, message_id=msg["id"],
                                               phone_number_id=route.phone_number_id), "queued")
                w.only_where(sql("EXISTS (SELECT 1 FROM queued)"))
            else:  # appended at its stream's head: the delivery's row lock (held) serialises its writers
                delivery_id = d["id"]
                w.project(store.requeue(delivery_id))
            await self.store.write(w.append(store.stream_id(delivery_id), version, [
                RedeliveryRequested(org_id=cmd.org_id, delivery_id=delivery_id, message_id=msg["id"],
                                    phone_number_id=route.phone_number_id, message_event_id=msg["event_id"])])
                                   .returning(store.wake_workers(self.store.schema)), conn)
            view = await self._deliveries(conn, msg)  # as requested: pending (the worker may be quicker)
        self.on_queued(delivery_id)
        log.info("inbound_redelivery_requested", message_id=msg["id"], org_id=cmd.org_id)
        return view

