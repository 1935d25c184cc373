"""outbound command handlers: accept a message (validate → sender → gate → credit → queue, in that
order) and read messages back."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client

from libs.bus.rpc import RpcClient
from libs.cache import TtlCache, evict_on
from libs.phone import normalize_e164
from libs.runtime.batching import Batcher
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.webhooks import urls
from proto.api import page_after, time_cursor
from proto.base import CommandError, NotFound, new_id, parse_time, parse_uuid, rfc3339, utcnow
from proto.commands import outbound as c
from proto.commands.accounts import (
    ReservationOutcomes,
    ReserveCredit,
    ReserveCredits,
    SettleCredit,
)
from proto.commands.compliance import EvaluateSend, EvaluateSends, SendDecision, SendOutcomes
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.events.outbound import MessageFacts, MessageQueued, MessageScheduled
from proto.subjects import Subjects
from services.outbound import model, store
from services.outbound.config import OutboundSettings

log = structlog.get_logger(__name__)


def phone(value: str, field: str) -> str:
    try:
        return normalize_e164(value)
    except ValueError as exc:
        raise model.invalid(field, str(exc)) from exc


@dataclass(slots=True)
class _Accept:
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


_Answer: TypeAlias = c.MessageView | BaseException


@dataclass(slots=True)
class _Existing:
    """A message id raced by a concurrent accept of the same message: that one's view."""

    view: c.MessageView


_Written: TypeAlias = asyncpg.Record | _Existing | BaseException


class Outbound:
    def __init__(self, rpc: RpcClient, es: EventStore, settings: OutboundSettings,
                 wake: Callable[[set[tuple[str, str]]], None] = lambda due: None, dispatching: Callable[[], bool] = lambda: False):
        self.rpc = rpc
        self.es = es
        self.settings = settings
        self.wake = wake
        """Tells an in-process dispatcher messages are due, by (sending number, campaign id)."""
        self.dispatching = dispatching
        """Whether this process's dispatcher leads; if not, the leader hears a NOTIFY instead (every
        notifying commit takes a database-wide lock in PostgreSQL, so it is sent only when needed)."""
        self._senders: TtlCache[tuple[str, str], SenderInfo] = TtlCache(settings.accept_sender_cache_s,
                                                                        group=lambda key: key[0])
        """Per (organization, number): a sender_status answer that allowed sending (libs.cache)."""
        self._queues: dict[str, tuple[store.Ahead, float]] = {}
        """Per sending number: its queue (messages, segments) after our last accept, and when it was last
        counted."""
        self._accepts: Batcher[_Accept, _Answer] = Batcher(
            "accept", self._accept_batch, max_batch=settings.accept_batch, workers=settings.accept_workers)

    async def close(self) -> None:
        await self._accepts.stop()

    # -- send ------------------------------------------------------------------------------------
    async def send(self, cmd: c.SendMessage) -> c.MessageView:
        """Validate here; then the send joins a batch that is accepted together — one sender lookup per
        number, one gate request, one credit request and one write for the whole batch — so under load
        the round trips per send fall while each send is still decided, answered and refused on its own."""
        s, now = self.settings, utcnow()
        text = model.validate_text(cmd.text)
        from_, to = phone(cmd.from_, "from"), phone(cmd.to, "to")
        send_at = model.parse_send_at(cmd.send_at, now, s.max_schedule_days)
        validity = model.validate_validity(cmd.validity_seconds, s.default_validity_s, s.max_validity_s)
        callback_url = (await urls.check_url(cmd.status_callback_url, "status_callback_url", s.env)
                        if cmd.status_callback_url and cmd.status_callback_url.strip() else None)
        if cmd.message_id is not None:
            message_id = parse_uuid(cmd.message_id)
            if message_id is None:
                raise model.invalid("message_id", "must be a UUID")
            existing = await self._existing(cmd.org_id, message_id)
            if existing is not None:
                return existing
        else:
            message_id = new_id()
        segments, encoding = model.count_segments(text)
        answer = await self._accepts.submit(_Accept(
            cmd=cmd, message_id=message_id, from_=from_, to=to, text=text, send_at=send_at, validity=validity,
            callback_url=callback_url, segments=segments, encoding=encoding, now=now))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def _accept_batch(self, batch: list[_Accept]) -> list[_Answer]:
        """sender and gate side by side → credit → write, each step one request for the batch. An item
        refused at a step gets its error and goes no further (a sender refusal wins over the gate's
        answer); the others go on."""
        out: dict[int, _Answer] = {}

        async def gate() -> SendOutcomes | CommandError:
            try:
                decided: SendOutcomes = await self.rpc.call(EvaluateSends(sends=[
                    EvaluateSend(org_id=a.cmd.org_id, message_id=a.message_id, from_=a.from_, to=a.to, text=a.text,
                                 category=a.cmd.category, kind=a.cmd.kind, stage="accept",
                                 send_at=rfc3339(a.send_at) if a.send_at else None,
                                 on_frequency_cap=a.cmd.on_frequency_cap) for a in batch]))
            except CommandError as exc:
                return exc
            return decided

        # the sending numbers (one lookup per number) and the compliance gate, side by side; a send from a
        # number that is not the organization's is refused for that first, whatever the gate said
        keys = list({(a.cmd.org_id, a.from_) for a in batch})
        found, decided = await asyncio.gather(
            asyncio.gather(*(self._sender(org, number) for org, number in keys), return_exceptions=True), gate())
        senders = dict(zip(keys, found, strict=True))
        for i, a in enumerate(batch):
            got = senders[(a.cmd.org_id, a.from_)]
            if isinstance(got, SenderInfo):
                a.sender = got
            elif isinstance(got, CommandError):
                out[i] = got
            else:
                raise got
            if i in out:
                continue
            if isinstance(decided, CommandError):
                out[i] = decided
                continue
            o = decided.results[i]
            if o.error is not None:
                out[i] = CommandError.from_body(o.error)
            else:
                assert o.decision is not None
                refused = self._decide(a, o.decision)
                if refused is not None:
                    out[i] = refused
        live = [i for i in range(len(batch)) if i not in out]

        # credit
        if live:
            try:
                held: ReservationOutcomes = await self.rpc.call(ReserveCredits(reservations=[ReserveCredit(
                    org_id=batch[i].cmd.org_id, reservation_id=batch[i].message_id, amount_micros=batch[i].amount,
                    reason="message", reference=batch[i].message_id) for i in live]))
            except CommandError as exc:
                if exc.code == "SERVICE_TIMEOUT":  # they may have been held after all: give them back
                    await asyncio.gather(*(self._release(batch[i].cmd.org_id, batch[i].message_id) for i in live))
                out.update((i, exc) for i in live)
            else:
                for i, r in zip(live, held.results, strict=True):
                    if r.error is None:
                        continue
                    err = CommandError.from_body(r.error)
                    if err.code == "RESERVATION_ID_TAKEN":  # the reservation id is the message id
                        err = CommandError("MESSAGE_ID_TAKEN", "message_id: already used; choose another UUID", 409,
                                           {"field": "message_id"})
                    out[i] = err
            live = [i for i in live if i not in out]

        # the write (each number's queue ahead of the batch counted meanwhile), and the answers
        if live:
            new = [self._facts(batch[i]) for i in live]
            written, ahead = await asyncio.gather(self._write_all(new), self._ahead(new))
            failed = [i for i in live if isinstance(written[batch[i].message_id], BaseException)]
            await asyncio.gather(*(self._release(batch[i].cmd.org_id, batch[i].message_id) for i in failed))
            views = self._views(written, ahead)
            for i in live:
                answer = views[batch[i].message_id]
                out[i] = answer
                if isinstance(answer, c.MessageView):
                    log.info("message_accepted", message_id=answer.id, org_id=batch[i].cmd.org_id, status=answer.status,
                             segments=batch[i].segments, kind=batch[i].cmd.kind)
            due = {(m.values["from_number"], m.values["campaign_id"]) for m in new if m.status == "queued"
                   and isinstance(views[m.message_id], c.MessageView)}
            if due:
                self.wake(due)
        return [out[i] for i in range(len(batch))]

    def _decide(self, a: _Accept, decision: SendDecision) -> CommandError | None:
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
                a.deferred_by = model.deferred_by(decision.checks)
        a.amount = model.price_micros(a.segments, self.settings.price_per_segment_micros)
        return None

    async def _ahead(self, new: list[store.NewMessage]) -> dict[str, store.Ahead]:
        """For each number with queued messages in the batch, how many of its messages were queued
        before the batch's first one (the batch's own are not counted, whether written yet or not).

        Counted exactly, unless the number's last count was a long queue (``queue_estimate_from``) taken
        within ``queue_estimate_s``: then that count plus what was queued here since — off by at most
        what was sent meanwhile, and not a walk over the whole backlog for every batch."""
        first: dict[str, store.NewMessage] = {}
        queued: dict[str, store.Ahead] = {}
        for m in new:
            number = m.values["from_number"]
            head = first.get(number)
            if m.status == "queued":
                queued[number] = queued.get(number, store.Ahead()).plus(1, m.values["segments"])
                if head is None or (m.now, m.message_id) < (head.now, head.message_id):
                    first[number] = m
        out: dict[str, store.Ahead] = {}
        exact: list[str] = []
        now = time.monotonic()
        for number in first:
            known = self._queues.get(number)
            if known is not None and known[0].messages >= self.settings.queue_estimate_from \
                    and now - known[1] < self.settings.queue_estimate_s:
                out[number] = known[0]
            else:
                exact.append(number)
        counts = await asyncio.gather(*(store.queued_before(self.es.pool, number, first[number].now,
                                                            first[number].message_id) for number in exact))
        out.update(zip(exact, counts, strict=True))
        for number, ahead in out.items():
            at = self._queues[number][1] if number not in exact else now
            self._queues[number] = (ahead.plus(queued[number].messages, queued[number].segments), at)
        if len(self._queues) > 10_000:  # numbers not seen for a while go first
            for number in [k for k, (_, at) in self._queues.items() if now - at >= self.settings.queue_estimate_s]:
                del self._queues[number]
        return out

    async def _write_all(self, new: list[store.NewMessage]) -> dict[str, _Written]:
        """Write the accepted messages: those that can be written as one statement (``_standalone``) all
        together; the rest each in its own transaction. A message id raced by a concurrent accept answers
        with that message (it owns the reservation); a write that failed answers with its error (the
        caller gives the credit back)."""
        rows: dict[str, _Written] = {}
        together = [m for m in new if self._standalone(m)]
        if len(together) > 1:
            try:
                for row in await store.insert_many(self.es, together):
                    rows[row["id"]] = row
            except (ConcurrencyError, asyncpg.UniqueViolationError):
                pass  # one of them was accepted concurrently: find out which, one by one
            except Exception as exc:
                return {m.message_id: exc for m in new}
        pending = [m for m in new if m.message_id not in rows]
        for m, got in zip(pending, await asyncio.gather(*(self._write_one(m) for m in pending)), strict=True):
            rows[m.message_id] = got
        return rows

    async def _write_one(self, m: store.NewMessage) -> _Written:
        try:
            try:
                return await self._write(m)
            except (ConcurrencyError, asyncpg.UniqueViolationError):
                existing = await self._existing(m.org_id, m.message_id)
                if existing is None:
                    raise
                return _Existing(existing)
        except Exception as exc:
            return exc

    def _views(self, rows: dict[str, _Written], ahead: dict[str, store.Ahead]) -> dict[str, _Answer]:
        """The API's view of each written message; a queued one with its place in its number's queue
        (``ahead`` of the batch, then counted on within it) and expected send time."""
        out: dict[str, _Answer] = {}
        queued: dict[str, list[asyncpg.Record]] = {}
        for mid, row in rows.items():
            if isinstance(row, _Existing):
                out[mid] = row.view
            elif isinstance(row, BaseException):
                out[mid] = row
            elif row["status"] == "queued":
                queued.setdefault(row["from_number"], []).append(row)
            else:
                out[mid] = store.view(row)
        now = utcnow()
        for group in queued.values():
            group.sort(key=lambda r: (r["created_at"], r["id"]))
            at = ahead.get(group[0]["from_number"], store.Ahead())
            for row in group:
                out[row["id"]] = store.view(row, queue_position=at.messages,
                                            expected_send_at=self.expected(row, at, now))
                at = at.plus(1, row["segments"])
        return out

    def _facts(self, a: _Accept) -> store.NewMessage:
        assert a.sender is not None
        sender = a.sender
        callback_url = a.callback_url or sender.status_callback_url
        starts = a.due or a.now
        expires = model.expires_at(starts, a.validity)
        facts = MessageFacts(
            from_=a.from_, to=a.to, text=a.text, segments=a.segments, encoding=a.encoding, price_micros=a.amount,
            category=a.cmd.category, kind=a.cmd.kind, phone_number_id=sender.phone_number_id,
            campaign_id=sender.campaign_id or "", throughput_mpm=sender.throughput_mpm,
            status_callback_url=callback_url, send_at=rfc3339(a.send_at) if a.send_at else None,
            validity_seconds=a.validity, expires_at=rfc3339(expires))
        ev: MessageQueued | MessageScheduled
        if a.due:
            ev = MessageScheduled(org_id=a.cmd.org_id, message_id=a.message_id, send_at=rfc3339(a.due),
                                  reason=a.reason or "", facts=facts, occurred_at=a.now)
        else:
            ev = MessageQueued(org_id=a.cmd.org_id, message_id=a.message_id, facts=facts, occurred_at=a.now)
        values = {
            "from_number": a.from_, "to_number": a.to, "body": a.text, "category": a.cmd.category,
            "kind": a.cmd.kind, "segments": a.segments, "encoding": a.encoding, "price_micros": a.amount,
            "phone_number_id": sender.phone_number_id, "campaign_id": sender.campaign_id or "",
            "throughput_mpm": sender.throughput_mpm, "status_callback_url": callback_url, "send_at": a.send_at,
            "validity_seconds": a.validity, "expires_at": expires, "next_attempt_at": starts,
            "deferred_by": a.deferred_by,
        }
        return store.NewMessage(message_id=a.message_id, org_id=a.cmd.org_id, status="scheduled" if a.due else "queued",
                                reason=a.reason, event=ev, values=values, now=a.now)

    def _standalone(self, m: store.NewMessage) -> bool:
        """Whether the message is written by one statement of its own: no status callback to queue, and no
        NOTIFY needed (not queued, or this process's dispatcher leads and is woken directly)."""
        return not m.values["status_callback_url"] and (m.status != "queued" or self.dispatching())

    async def _write(self, m: store.NewMessage) -> asyncpg.Record:
        if self._standalone(m):
            return await store.insert_now(self.es.pool, self.es, m)
        async with self.es.transaction() as conn:
            row = await store.insert(conn, self.es, m)
            if m.status == "queued" and not self.dispatching():
                await conn.execute("SELECT pg_notify($1, '')", store.due_channel(self.es.schema))
        return row

    async def _existing(self, org_id: str, message_id: str) -> c.MessageView | None:
        row = await self.es.pool.fetchrow(f"SELECT {store.COLUMNS} FROM messages WHERE id = $1::uuid", message_id)
        if row is None:
            return None
        if row["org_id"] != org_id:
            raise CommandError("MESSAGE_ID_TAKEN", "message_id: already used; choose another UUID", 409,
                               {"field": "message_id"})
        return await self._view(self.es.pool, row, utcnow())

    async def _sender(self, org_id: str, from_: str) -> SenderInfo:
        """The sending number's state from numbers. A number that can send is remembered for
        ``accept_sender_cache_s``, and forgotten at once when any numbers event of its organization
        arrives (see ``follow_numbers``); a refusal is never remembered."""
        try:
            return await self._senders.load((org_id, from_), lambda: self.rpc.call(
                SenderStatus(org_id=org_id, e164=from_)), keep=lambda info: info.sending_enabled)
        except CommandError as exc:
            if exc.code == "NOT_FOUND":
                raise CommandError(
                    "FROM_NUMBER_NOT_FOUND",
                    f"from: {from_} is not one of your organization's numbers; order it first "
                    "(POST /v1/phone-numbers/orders)", 400, {"field": "from"}) from exc
            raise

    async def follow_numbers(self, nc: Client, subjects: Subjects) -> None:
        """Forget an organization's remembered numbers on any numbers event of it (a number configured,
        released or moved to a campaign, a campaign reviewed or suspended, a brand vetted)."""
        # <root>.numbers.<aggregate>.<event>.<org id>
        await evict_on(nc, subjects.domain_wildcard("numbers"),
                       lambda msg: self._senders.evict_group(msg.subject.rpartition(".")[2]))

    async def _release(self, org_id: str, message_id: str) -> None:
        try:
            await self.rpc.call(SettleCredit(
                org_id=org_id, reservation_id=message_id, capture=False, reason="message not accepted"))
        except CommandError as exc:
            if exc.code != "NOT_FOUND":  # NOT_FOUND: nothing was held
                log.error("credit_release_failed", message_id=message_id, error=exc.code)
        except Exception as exc:  # logged for ops: the reservation stays held until settled by hand
            log.error("credit_release_failed", message_id=message_id, error=repr(exc))

    async def _view(self, conn: asyncpg.Connection | asyncpg.Pool, row: asyncpg.Record,
                    now: datetime) -> c.MessageView:
        if row["status"] != "queued":
            return store.view(row)
        ahead = await store.queue_position(conn, row)
        return store.view(row, queue_position=ahead.messages, expected_send_at=self.expected(row, ahead, now))

    def expected(self, row: asyncpg.Record, ahead: store.Ahead, now: datetime) -> datetime:
        """When the queued message is expected to go: the segments queued ahead of it on its number at
        the sender's throughput (the number's or its campaign's, whichever is lower), one token a segment."""
        s = self.settings
        campaign = row["throughput_mpm"] if row["throughput_mpm"] > 0 else s.default_campaign_mpm
        per_minute = min(s.number_throughput_mpm, campaign)
        due: datetime = row["next_attempt_at"]
        return max(model.expected_send_at(now, ahead.segments, per_minute, row["segments"], s.burst_s), due)

    # -- cancel ----------------------------------------------------------------------------------
    async def cancel(self, cmd: c.CancelMessage) -> c.MessageDetail:
        """Cancel a scheduled or queued message (CANCELED_BY_USER; refunded by accounts, callback queued).

        Race-safe against the dispatcher: both take the message's row lock, and the dispatcher marks a
        message ``sending`` (committed before the carrier sees it) only while it is still queued. So either
        the cancel commits first — the dispatcher then finds it canceled and never submits it — or the
        message is ``sending`` and the cancel answers 409 MESSAGE_NOT_CANCELABLE; never both."""
        message_id = parse_uuid(cmd.message_id)
        if message_id is None:
            raise NotFound("message")
        async with self.es.transaction() as conn:
            row = await conn.fetchrow(f"SELECT {store.COLUMNS} FROM messages WHERE id = $1::uuid AND org_id = $2::uuid"
                                      " FOR UPDATE", message_id, cmd.org_id)
            if row is None:
                raise NotFound("message")
            if row["status"] in model.CANCELABLE:
                [row] = await store.cancel(conn, self.es, [row], model.CANCELED_BY_USER, model.CANCELED_BY_USER)
                log.info("message_canceled", message_id=message_id, org_id=cmd.org_id)
            elif row["status"] != "canceled":  # (a second cancel answers the canceled message)
                raise CommandError(
                    "MESSAGE_NOT_CANCELABLE",
                    f"the message is {row['status']}: only scheduled or queued messages can be canceled", 409,
                    {"status": row["status"]})
            timeline = await store.timeline(conn, row["id"])
        return store.detail(row, timeline)

    # -- read ------------------------------------------------------------------------------------
    async def get(self, cmd: c.GetMessage) -> c.MessageDetail:
        message_id = parse_uuid(cmd.message_id)
        row = await store.fetch(self.es.pool, cmd.org_id, message_id) if message_id else None
        if row is None:
            raise NotFound("message")
        timeline = await store.timeline(self.es.pool, row["id"])
        now = utcnow()
        if row["status"] == "queued":
            ahead = await store.queue_position(self.es.pool, row)
            return store.detail(row, timeline, queue_position=ahead.messages,
                                expected_send_at=self.expected(row, ahead, now))
        return store.detail(row, timeline)

    async def list_messages(self, cmd: c.ListMessages) -> c.MessagePage:
        statuses = None
        if cmd.status:
            statuses = [x.strip().lower() for x in cmd.status.split(",") if x.strip()]
            bad = [x for x in statuses if x not in model.STATUSES]
            if bad:
                raise model.invalid("status", f"unknown status {bad[0]!r}; one of {', '.join(model.STATUSES)}")
        cursor_ts, cursor_id = page_after(cmd.cursor)
        f = store.ListFilter(
            org_id=cmd.org_id, limit=cmd.limit, statuses=statuses,
            from_number=phone(cmd.from_, "from") if cmd.from_ else None,
            to_number=phone(cmd.to, "to") if cmd.to else None,
            created_after=parse_time(cmd.created_after, "created_after") if cmd.created_after else None,
            created_before=parse_time(cmd.created_before, "created_before") if cmd.created_before else None,
            cursor_ts=cursor_ts, cursor_id=cursor_id)
        rows = await store.list_messages(self.es.pool, f)
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        nxt = time_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
        return c.MessagePage(data=[store.view(r) for r in rows], next_cursor=nxt)

    async def callbacks(self, cmd: c.ListStatusCallbacks) -> list[c.StatusCallbackView]:
        message_id = parse_uuid(cmd.message_id)
        row = await store.fetch(self.es.pool, cmd.org_id, message_id) if message_id else None
        if row is None:
            raise NotFound("message")
        rows = await self.es.pool.fetch(
            "SELECT id::text AS id, status, url, state, attempts, last_status_code, last_error, next_attempt_at,"
            " created_at, finished_at FROM status_callbacks WHERE message_id = $1::uuid ORDER BY seq", row["id"])
        return [c.StatusCallbackView(
            event_id=r["id"], status=r["status"], url=r["url"], state=r["state"], attempts=r["attempts"],
            last_status_code=r["last_status_code"], last_error=r["last_error"],
            next_attempt_at=rfc3339(r["next_attempt_at"]) if r["state"] == "pending" else None,
            created_at=rfc3339(r["created_at"]), finished_at=rfc3339(r["finished_at"]) if r["finished_at"] else None)
            for r in rows]

    async def callback_secret(self, cmd: c.GetCallbackSecret) -> c.CallbackSecretView:
        secret = await store.org_secret(self.es.pool, cmd.org_id, "whsec_" + secrets.token_urlsafe(32))
        return c.CallbackSecretView(secret=secret)
