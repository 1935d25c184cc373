"""The accept path, batched: sends validated by the handler join a batch that is accepted together —
one sender lookup per number and one gate request side by side, then one credit request, then one
write (``model.decide`` of Accept for each, one statement) — so under load the round trips per send
fall while each send is still decided, answered and refused on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec
import structlog

from libs.bus.rpc import RpcClient
from libs.runtime.batching import Batcher
from libs.store.eventstore import ConcurrencyError, EventStore
from proto.base import CommandError, parse_time, rfc3339, utcnow
from proto.commands import outbound as c
from proto.commands.accounts import (
    ReservationOutcomes,
    ReserveCredit,
    ReserveCredits,
    SettleCredit,
)
from proto.commands.compliance import EvaluateSend, EvaluateSends, SendDecision, SendOutcomes
from proto.commands.numbers import SenderInfo
from proto.events.outbound import MessageFacts
from services.outbound import model, projection, rules, store
from services.outbound.commands import Accept
from services.outbound.config import OutboundSettings
from services.outbound.senders import Senders

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Accepting:
    """A validated send waiting in the accept batch."""

    cmd: c.SendMessage
    message_id: str
    from_: str
    to: str
    text: str
    send_at: datetime | None
    validity: int
    callback_url: str | None
    segments: int
    encoding: str
    now: datetime
    sender: SenderInfo | None = None
    due: datetime | None = None
    reason: str | None = None
    deferred_by: str | None = None
    """The gate's checks that deferred it past its send_at (e.g. quiet_hours), comma separated."""
    amount: int = 0


Answer: TypeAlias = c.MessageView | BaseException


@dataclass(slots=True)
class Existing:
    """A message id raced by a concurrent accept of the same message: that one's view."""

    view: c.MessageView


_Written: TypeAlias = model.Message | Existing | BaseException


def message_id_taken() -> CommandError:
    return CommandError("MESSAGE_ID_TAKEN", "message_id: already used; choose another UUID", 409,
                        {"field": "message_id"})


def bad_reply(service: str, what: str, asked: int, answered: int) -> CommandError:
    """A batch answered with another number of results than asked: none is trusted, each send retries."""
    log.error("bad_reply", service=service, asked=asked, answered=answered)
    return CommandError("SERVICE_UNAVAILABLE", f"{service} answered {answered} {what} for {asked}; retry", 503)


def expected(s: OutboundSettings, m: model.Message, ahead: store.Ahead, now: datetime) -> datetime:
    """When the queued message is expected to go: the segments queued ahead of it on its number at
    the sender's throughput (the number's or its campaign's, whichever is lower), one token a segment."""
    campaign = m.throughput_mpm if m.throughput_mpm > 0 else s.default_campaign_mpm
    per_minute = min(s.number_throughput_mpm, campaign)
    due = m.next_attempt_at or now
    return max(rules.expected_send_at(now, ahead.segments, per_minute, m.segments, s.burst_s), due)


async def view_of(es: EventStore, s: OutboundSettings, m: model.Message) -> c.MessageView:
    """The API's view of a message; a queued one with its place in its number's queue."""
    if m.status != "queued":
        return store.view(m)
    ahead = await store.queue_position(es.pool, m)
    return store.view(m, queue_position=ahead.messages, expected_send_at=expected(s, m, ahead, utcnow()))


async def existing(es: EventStore, s: OutboundSettings, org_id: str, message_id: str) -> c.MessageView | None:
    """The message already accepted under this id (MESSAGE_ID_TAKEN when another organization's)."""
    m = await store.find(es.pool, message_id)
    if m is None:
        return None
    if m.org_id != org_id:
        raise message_id_taken()
    return await view_of(es, s, m)


class Acceptor:
    def __init__(self, rpc: RpcClient, es: EventStore, settings: OutboundSettings, senders: Senders,
                 wake: Callable[[set[tuple[str, str]]], None], dispatching: Callable[[], bool]):
        self.rpc = rpc
        self.es = es
        self.settings = settings
        self.senders = senders
        self.wake = wake
        """Tells an in-process dispatcher messages are due, by (sending number, campaign id)."""
        self.dispatching = dispatching
        """Whether this process's dispatcher leads; if not, the leader hears a NOTIFY instead (every
        notifying commit takes a database-wide lock in PostgreSQL, so it is sent only when needed)."""
        self._queues: dict[str, tuple[store.Ahead, float]] = {}
        """Per sending number: its queue (messages, segments) after our last accept, and when it was last
        counted."""
        self._batches: Batcher[Accepting, Answer] = Batcher(
            "accept", self._accept_batch, max_batch=settings.accept_batch, workers=settings.accept_workers)

    async def submit(self, a: Accepting) -> Answer:
        return await self._batches.submit(a)

    async def close(self) -> None:
        await self._batches.stop()

    async def _accept_batch(self, batch: list[Accepting]) -> list[Answer]:
        """sender and gate side by side → credit → write, each step one request for the batch. An item
        refused at a step gets its error and goes no further; the others go on."""
        out: dict[int, Answer] = {}
        await self._screen(batch, out)
        await self._reserve(batch, out)
        live = [i for i in range(len(batch)) if i not in out]
        if live:
            await self._write_batch(batch, live, out)
        return [out[i] for i in range(len(batch))]

    async def _gate(self, batch: list[Accepting]) -> SendOutcomes | CommandError:
        try:
            decided: SendOutcomes = await self.rpc.call(EvaluateSends(sends=[
                EvaluateSend(org_id=a.cmd.org_id, message_id=a.message_id, from_=a.from_, to=a.to, text=a.text,
                             category=a.cmd.category, kind=a.cmd.kind, stage="accept",
                             send_at=rfc3339(a.send_at) if a.send_at else None,
                             on_frequency_cap=a.cmd.on_frequency_cap) for a in batch]))
        except CommandError as exc:
            return exc
        if len(decided.results) != len(batch):
            return bad_reply("compliance", "checks", len(batch), len(decided.results))
        return decided

    async def _screen(self, batch: list[Accepting], out: dict[int, Answer]) -> None:
        """The sending numbers (one lookup per number) and the compliance gate, side by side; a send from
        a number that is not the organization's is refused for that first, whatever the gate said."""
        keys = list({(a.cmd.org_id, a.from_) for a in batch})
        found, decided = await asyncio.gather(
            asyncio.gather(*(self.senders.get(org, number) for org, number in keys), return_exceptions=True),
            self._gate(batch))
        senders = dict(zip(keys, found, strict=True))
        for i, a in enumerate(batch):
            got = senders[(a.cmd.org_id, a.from_)]
            if isinstance(got, SenderInfo):
                a.sender = got
            elif isinstance(got, CommandError):
                out[i] = got
                continue
            else:
                raise got
            if isinstance(decided, CommandError):
                out[i] = decided
                continue
            o = decided.results[i]
            if o.error is not None:
                out[i] = CommandError.from_body(o.error)
            else:
                assert o.decision is not None
                refused = self._admit(a, o.decision)
                if refused is not None:
                    out[i] = refused

    def _admit(self, a: Accepting, decision: SendDecision) -> CommandError | None:
        """The gate's answer for one send: its refusal, or its due time and price set on it."""
        sender = a.sender
        assert sender is not None
        if decision.decision == "deny":
            details: dict[str, object] = {**decision.details, "checks": msgspec.to_builtins(decision.checks)}
            if decision.code == "SENDING_NOT_ENABLED" and not sender.sending_enabled:  # what is missing, now
                details.update({"reason_code": sender.reason_code, **sender.details})
            return CommandError(decision.code or "SEND_DENIED", decision.reason or "the send is not allowed",
                                decision.status if decision.status >= 400 else 453, details)
        if not sender.sending_enabled:  # the gate checks registration too; this is the backstop
            return CommandError("SENDING_NOT_ENABLED", sender.reason or "this number cannot send yet", 403,
                                {"reason_code": sender.reason_code, **sender.details})
        a.due, a.reason = a.send_at, "send_at" if a.send_at else None
        if decision.decision == "defer" and decision.defer_until:
            until = parse_time(decision.defer_until, "defer_until")
            if a.due is None or until > a.due:
                a.due, a.reason = until, decision.reason or f"quiet hours until {decision.defer_until}"
                a.deferred_by = rules.deferred_by(decision.checks)
        a.amount = rules.price_micros(a.segments, self.settings.price_per_segment_micros)
        return None

    async def _reserve(self, batch: list[Accepting], out: dict[int, Answer]) -> None:
        """The credit of every send still live, held in one request (the reservation id is the message id)."""
        live = [i for i in range(len(batch)) if i not in out]
        if not live:
            return
        try:
            held: ReservationOutcomes = await self.rpc.call(ReserveCredits(reservations=[
                ReserveCredit(org_id=batch[i].cmd.org_id, reservation_id=batch[i].message_id,
                              amount_micros=batch[i].amount, reason="message", reference=batch[i].message_id)
                for i in live]))
        except CommandError as exc:
            if exc.code == "SERVICE_TIMEOUT":  # they may have been held after all: give them back
                await asyncio.gather(*(self._release(batch[i].cmd.org_id, batch[i].message_id) for i in live))
            out.update((i, exc) for i in live)
            return
        if len(held.results) != len(live):  # which were held is not known: all are given back
            await asyncio.gather(*(self._release(batch[i].cmd.org_id, batch[i].message_id) for i in live))
            err = bad_reply("accounts", "reservations", len(live), len(held.results))
            out.update((i, err) for i in live)
            return
        for i, r in zip(live, held.results, strict=True):
            if r.error is not None:
                err = CommandError.from_body(r.error)
                out[i] = message_id_taken() if err.code == "RESERVATION_ID_TAKEN" else err

    async def _write_batch(self, batch: list[Accepting], live: list[int], out: dict[int, Answer]) -> None:
        """The write (each number's queue ahead of the batch counted meanwhile), and the answers."""
        new = [self._accepted(batch[i]) for i in live]
        written, counted = await asyncio.gather(self._write_all(new), self._ahead(new), return_exceptions=True)
        if isinstance(written, BaseException):
            raise written
        # the queue count is only an estimate for the answer: once the write is in, a failed count never
        # turns an accepted (and charged) message into an error the caller would retry
        ahead: dict[str, store.Ahead] | None = None
        if isinstance(counted, BaseException):
            log.warning("queue_position_unavailable", error=repr(counted))
        else:
            ahead = counted
        failed = [i for i in live if isinstance(written[batch[i].message_id], BaseException)]
        await asyncio.gather(*(self._release(batch[i].cmd.org_id, batch[i].message_id) for i in failed))
        views = self._views(written, ahead)
        for i in live:
            answer = out[i] = views[batch[i].message_id]
            if isinstance(answer, c.MessageView):
                log.info("message_accepted", message_id=answer.id, org_id=batch[i].cmd.org_id, status=answer.status,
                         segments=batch[i].segments, kind=batch[i].cmd.kind)
        due = {(w.after.from_number, w.after.campaign_id) for w in new if w.after.status == "queued"
               and isinstance(views[w.after.id], c.MessageView)}
        if due:
            self.wake(due)

    def _accepted(self, a: Accepting) -> projection.Write:
        """The aggregate's decision on the accepted send: MessageQueued, or MessageScheduled (send_at,
        quiet hours), carrying its facts."""
        assert a.sender is not None
        sender = a.sender
        callback_url = a.callback_url or sender.status_callback_url
        expires = rules.expires_at(a.due or a.now, a.validity)
        facts = MessageFacts(
            from_=a.from_, to=a.to, text=a.text, segments=a.segments, encoding=a.encoding, price_micros=a.amount,
            category=a.cmd.category, kind=a.cmd.kind, phone_number_id=sender.phone_number_id,
            campaign_id=sender.campaign_id or "", throughput_mpm=sender.throughput_mpm,
            status_callback_url=callback_url, send_at=rfc3339(a.send_at) if a.send_at else None,
            validity_seconds=a.validity, expires_at=rfc3339(expires))
        new = model.Message(id=a.message_id, org_id=a.cmd.org_id)
        decided = model.decide(new, Accept(facts, a.now, a.due, a.reason, a.deferred_by))
        return projection.write_of(new, decided.events)

    async def _ahead(self, new: list[projection.Write]) -> dict[str, store.Ahead]:
        """For each number with queued messages in the batch, how many of its messages were queued
        before the batch's first one (the batch's own are not counted, whether written yet or not).

        Counted exactly, unless the number's last count was a long queue (``queue_estimate_from``) taken
        within ``queue_estimate_s``: then that count plus what was queued here since — off by at most
        what was sent meanwhile, and not a walk over the whole backlog for every batch."""
        first: dict[str, model.Message] = {}
        queued: dict[str, store.Ahead] = {}
        for m in (w.after for w in new if w.after.status == "queued"):
            queued[m.from_number] = queued.get(m.from_number, store.Ahead()).plus(1, m.segments)
            head = first.get(m.from_number)
            if head is None or (m.created_at, m.id) < (head.created_at, head.id):  # type: ignore[operator]
                first[m.from_number] = m
        out: dict[str, store.Ahead] = {}
        exact: list[str] = []
        now = time.monotonic()
        s = self.settings
        for number in first:
            known = self._queues.get(number)
            if known is not None and known[0].messages >= s.queue_estimate_from and now - known[1] < s.queue_estimate_s:
                out[number] = known[0]
            else:
                exact.append(number)
        counts = await asyncio.gather(*(store.queue_position(self.es.pool, first[number]) for number in exact))
        out.update(zip(exact, counts, strict=True))
        for number, ahead in out.items():
            at = self._queues[number][1] if number not in exact else now
            self._queues[number] = (ahead.plus(queued[number].messages, queued[number].segments), at)
        if len(self._queues) > 10_000:  # numbers not seen for a while go first
            for number in [k for k, (_, at) in self._queues.items() if now - at >= s.queue_estimate_s]:
                del self._queues[number]
        return out

    async def _write_all(self, new: list[projection.Write]) -> dict[str, _Written]:
        """Write the accepted messages: those that can be written as one statement (``_standalone``) all
        together; the rest each in its own transaction. A message id raced by a concurrent accept answers
        with that message (it owns the reservation); a write that failed answers with its error (the
        caller gives the credit back)."""
        rows: dict[str, _Written] = {}
        together = [w for w in new if self._standalone(w)]
        if len(together) > 1:
            try:
                await projection.insert(self.es, together)
                rows.update((w.after.id, w.after) for w in together)
            except (ConcurrencyError, asyncpg.UniqueViolationError):
                pass  # one of them was accepted concurrently: find out which, one by one
            except Exception as exc:
                return {w.after.id: exc for w in new}
        pending = [w for w in new if w.after.id not in rows]
        for w, got in zip(pending, await asyncio.gather(*(self._write_one(w) for w in pending)), strict=True):
            rows[w.after.id] = got
        return rows

    async def _write_one(self, w: projection.Write) -> _Written:
        m = w.after
        try:
            try:
                await self._write(w)
                return m
            except (ConcurrencyError, asyncpg.UniqueViolationError):
                found = await existing(self.es, self.settings, m.org_id, m.id)
                if found is None:
                    raise
                return Existing(found)
        except Exception as exc:
            return exc

    def _standalone(self, w: projection.Write) -> bool:
        """Whether the message is written by one statement of its own: no status callback to queue, and no
        NOTIFY needed (not queued, or this process's dispatcher leads and is woken directly)."""
        return not w.after.status_callback_url and (w.after.status != "queued" or self.dispatching())

    async def _write(self, w: projection.Write) -> None:
        if self._standalone(w):
            await projection.insert(self.es, [w])
            return
        async with self.es.transaction() as conn:
            await projection.insert(self.es, [w], conn)
            await projection.callbacks(conn, self.es, [w])
            if w.after.status == "queued" and not self.dispatching():
                await projection.notify(conn, store.due_channel(self.es.schema))

    def _views(self, rows: dict[str, _Written], ahead: dict[str, store.Ahead] | None) -> dict[str, Answer]:
        """The API's view of each written message; a queued one with its place in its number's queue
        (``ahead`` of the batch, then counted on within it) and expected send time — or without them
        when the queue could not be counted (``ahead`` None)."""
        out: dict[str, Answer] = {}
        queued: dict[str, list[model.Message]] = {}
        for mid, row in rows.items():
            if isinstance(row, Existing):
                out[mid] = row.view
            elif isinstance(row, BaseException):
                out[mid] = row
            elif row.status == "queued" and ahead is not None:
                queued.setdefault(row.from_number, []).append(row)
            else:
                out[mid] = store.view(row)
        now = utcnow()
        counted = ahead or {}  # (nothing is in ``queued`` when the queue was not counted)
        for group in queued.values():
            group.sort(key=lambda m: (m.created_at, m.id))
            at = counted.get(group[0].from_number, store.Ahead())
            for m in group:
                out[m.id] = store.view(m, queue_position=at.messages, expected_send_at=expected(self.settings, m, at,
                                                                                                 now))
                at = at.plus(1, m.segments)
        return out

    async def _release(self, org_id: str, message_id: str) -> None:
        try:
            await self.rpc.call(SettleCredit(
                org_id=org_id, reservation_id=message_id, capture=False, reason="message not accepted"))
        except CommandError as exc:
            if exc.code != "NOT_FOUND":  # NOT_FOUND: nothing was held
                log.error("credit_release_failed", message_id=message_id, error=exc.code)
        except Exception as exc:  # logged for ops: the reservation stays held until settled by hand
            log.error("credit_release_failed", message_id=message_id, error=repr(exc))
