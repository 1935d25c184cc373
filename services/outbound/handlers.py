"""outbound command handlers: accept a message (validate → sender → gate → credit → queue, in that
order) and read messages back."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

import asyncpg
import msgspec
import structlog

from libs.bus.rpc import RpcClient
from libs.phone import normalize_e164
from libs.store.eventstore import ConcurrencyError, EventStore
from proto.api import decode_cursor, encode_cursor
from proto.base import CommandError, NotFound, new_id, rfc3339, utcnow
from proto.commands import outbound as c
from proto.commands.accounts import Reservation, ReserveCredit, SettleCredit
from proto.commands.compliance import EvaluateSend, SendDecision
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.events.outbound import MessageFacts, MessageQueued, MessageScheduled
from services.outbound import model, store
from services.outbound.config import OutboundSettings

log = structlog.get_logger(__name__)


def phone(value: str, field: str) -> str:
    try:
        return normalize_e164(value)
    except ValueError as exc:
        raise model.invalid(field, str(exc)) from exc


class Outbound:
    def __init__(self, rpc: RpcClient, es: EventStore, settings: OutboundSettings,
                 wake: Callable[[], None] = lambda: None, dispatching: Callable[[], bool] = lambda: False):
        self.rpc = rpc
        self.es = es
        self.settings = settings
        self.wake = wake
        """Tells an in-process dispatcher a message is due."""
        self.dispatching = dispatching
        """Whether this process's dispatcher leads; if not, the leader hears a NOTIFY instead (every
        notifying commit takes a database-wide lock in PostgreSQL, so it is sent only when needed)."""

    # -- send ------------------------------------------------------------------------------------
    async def send(self, cmd: c.SendMessage) -> c.MessageView:
        s, now = self.settings, utcnow()
        text = model.validate_text(cmd.text)
        from_, to = phone(cmd.from_, "from"), phone(cmd.to, "to")
        send_at = model.parse_send_at(cmd.send_at, now, s.max_schedule_days)
        validity = model.validate_validity(cmd.validity_seconds, s.default_validity_s, s.max_validity_s)
        callback_url = model.validate_callback_url(cmd.status_callback_url, s.env)
        if cmd.message_id is not None:
            message_id = model.parse_uuid(cmd.message_id)
            if message_id is None:
                raise model.invalid("message_id", "must be a UUID")
            existing = await self._existing(cmd.org_id, message_id)
            if existing is not None:
                return existing
        else:
            message_id = new_id()
        sender = await self._sender(cmd.org_id, from_)
        segments, encoding = model.count_segments(text)
        decision: SendDecision = await self.rpc.call("compliance", "evaluate_send", EvaluateSend(
            org_id=cmd.org_id, message_id=message_id, from_=from_, to=to, text=text, category=cmd.category,
            kind=cmd.kind, stage="accept"), SendDecision)
        if decision.decision == "deny":
            raise CommandError(decision.code or "SEND_DENIED", decision.reason or "the send is not allowed",
                               decision.status if decision.status >= 400 else 453,
                               {"checks": msgspec.to_builtins(decision.checks)})
        if not sender.sending_enabled:  # the gate checks registration too; this is the backstop
            raise CommandError("SENDING_NOT_ENABLED", sender.reason or "this number cannot send yet", 403,
                               {"reason_code": sender.reason_code, **sender.details})
        due = send_at
        reason: str | None = "send_at" if send_at else None
        if decision.decision == "defer" and decision.defer_until:
            until = model.parse_time(decision.defer_until, "defer_until")
            if due is None or until > due:
                due, reason = until, decision.reason or f"quiet hours until {decision.defer_until}"
        amount = model.price_micros(segments, s.price_per_segment_micros)
        try:
            await self.rpc.call("accounts", "reserve_credit", ReserveCredit(
                org_id=cmd.org_id, reservation_id=message_id, amount_micros=amount, reason="message",
                reference=message_id), Reservation)
        except CommandError as exc:
            if exc.code == "SERVICE_TIMEOUT":  # it may have been held after all: give it back
                await self._release(cmd.org_id, message_id)
            if exc.code == "RESERVATION_ID_TAKEN":  # the reservation id is the message id
                raise CommandError("MESSAGE_ID_TAKEN", "message_id: already used; choose another UUID", 409,
                                   {"field": "message_id"}) from exc
            raise
        try:
            row = await self._write(cmd, message_id, from_, to, text, segments, encoding, amount, sender,
                                    callback_url, validity, send_at, due, reason, now)
        except (ConcurrencyError, asyncpg.UniqueViolationError):
            # the same message_id accepted concurrently: that one owns the reservation, answer with it
            existing = await self._existing(cmd.org_id, message_id)
            if existing is None:
                raise
            return existing
        except BaseException:
            await self._release(cmd.org_id, message_id)
            raise
        log.info("message_accepted", message_id=message_id, org_id=cmd.org_id, status=row["status"],
                 segments=segments, kind=cmd.kind)
        if row["status"] == "queued":
            self.wake()
        return await self._view(self.es.pool, row, now)

    async def _write(self, cmd: c.SendMessage, message_id: str, from_: str, to: str, text: str, segments: int,
                     encoding: str, amount: int, sender: SenderInfo, callback_url: str | None, validity: int,
                     send_at: datetime | None, due: datetime | None, reason: str | None,
                     now: datetime) -> asyncpg.Record:
        callback_url = callback_url or sender.status_callback_url
        starts = due or now
        expires = model.expires_at(starts, validity)
        facts = MessageFacts(
            from_=from_, to=to, text=text, segments=segments, encoding=encoding, price_micros=amount,
            category=cmd.category, kind=cmd.kind, phone_number_id=sender.phone_number_id,
            campaign_id=sender.campaign_id or "", throughput_mpm=sender.throughput_mpm,
            status_callback_url=callback_url, send_at=rfc3339(send_at) if send_at else None,
            validity_seconds=validity, expires_at=rfc3339(expires))
        status = "scheduled" if due else "queued"
        ev: MessageQueued | MessageScheduled
        if due:
            ev = MessageScheduled(org_id=cmd.org_id, message_id=message_id, send_at=rfc3339(due),
                                  reason=reason or "", facts=facts, occurred_at=now)
        else:
            ev = MessageQueued(org_id=cmd.org_id, message_id=message_id, facts=facts, occurred_at=now)
        values = {
            "from_number": from_, "to_number": to, "body": text, "category": cmd.category, "kind": cmd.kind,
            "segments": segments, "encoding": encoding, "price_micros": amount,
            "phone_number_id": sender.phone_number_id, "campaign_id": sender.campaign_id or "",
            "throughput_mpm": sender.throughput_mpm, "status_callback_url": callback_url, "send_at": send_at,
            "validity_seconds": validity, "expires_at": expires, "next_attempt_at": starts,
        }
        if not callback_url and (status != "queued" or self.dispatching()):
            return await store.insert_now(self.es.pool, self.es, message_id=message_id, org_id=cmd.org_id,
                                          status=status, reason=reason, event=ev, values=values, now=now)
        async with self.es.transaction() as conn:
            row = await store.insert(conn, self.es, message_id=message_id, org_id=cmd.org_id, status=status,
                                     reason=reason, event=ev, values=values, now=now)
            if status == "queued" and not self.dispatching():
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
        try:
            info: SenderInfo = await self.rpc.call("numbers", "sender_status", SenderStatus(org_id=org_id, e164=from_),
                                                   SenderInfo)
        except CommandError as exc:
            if exc.code == "NOT_FOUND":
                raise CommandError(
                    "FROM_NUMBER_NOT_FOUND",
                    f"from: {from_} is not one of your organization's numbers; order it first "
                    "(POST /v1/phone-numbers/orders)", 400, {"field": "from"}) from exc
            raise
        return info

    async def _release(self, org_id: str, message_id: str) -> None:
        try:
            await self.rpc.call("accounts", "settle_credit", SettleCredit(
                org_id=org_id, reservation_id=message_id, capture=False, reason="message not accepted"),
                Reservation)
        except CommandError as exc:
            if exc.code != "NOT_FOUND":  # NOT_FOUND: nothing was held
                log.error("credit_release_failed", message_id=message_id, error=exc.code)
        except Exception as exc:  # logged for ops: the reservation stays held until settled by hand
            log.error("credit_release_failed", message_id=message_id, error=repr(exc))

    async def _view(self, conn: asyncpg.Connection | asyncpg.Pool, row: asyncpg.Record,
                    now: datetime) -> c.MessageView:
        if row["status"] != "queued":
            return store.view(row)
        position = await store.queue_position(conn, row)
        return store.view(row, queue_position=position, expected_send_at=self.expected(row, position, now))

    def expected(self, row: asyncpg.Record, position: int, now: datetime) -> datetime:
        s = self.settings
        campaign = row["throughput_mpm"] if row["throughput_mpm"] > 0 else s.default_campaign_mpm
        per_minute = min(s.number_throughput_mpm, campaign) / max(1, row["segments"])
        due: datetime = row["next_attempt_at"]
        return max(model.expected_send_at(now, position, per_minute), due)

    # -- read ------------------------------------------------------------------------------------
    async def get(self, cmd: c.GetMessage) -> c.MessageDetail:
        message_id = model.parse_uuid(cmd.message_id)
        row = await store.fetch(self.es.pool, cmd.org_id, message_id) if message_id else None
        if row is None:
            raise NotFound("message")
        timeline = await store.timeline(self.es.pool, row["id"])
        now = utcnow()
        if row["status"] == "queued":
            position = await store.queue_position(self.es.pool, row)
            return store.detail(row, timeline, queue_position=position,
                                expected_send_at=self.expected(row, position, now))
        return store.detail(row, timeline)

    async def list_messages(self, cmd: c.ListMessages) -> c.MessagePage:
        statuses = None
        if cmd.status:
            statuses = [x.strip().lower() for x in cmd.status.split(",") if x.strip()]
            bad = [x for x in statuses if x not in model.STATUSES]
            if bad:
                raise model.invalid("status", f"unknown status {bad[0]!r}; one of {', '.join(model.STATUSES)}")
        cursor_ts = cursor_id = None
        if cmd.cursor:
            try:
                ts, ident = decode_cursor(cmd.cursor)
                cursor_ts, cursor_id = datetime.fromisoformat(ts), model.parse_uuid(ident)
            except Exception as exc:
                raise model.invalid("cursor", "invalid cursor") from exc
            if cursor_id is None:
                raise model.invalid("cursor", "invalid cursor")
        f = store.ListFilter(
            org_id=cmd.org_id, limit=cmd.limit, statuses=statuses,
            from_number=phone(cmd.from_, "from") if cmd.from_ else None,
            to_number=phone(cmd.to, "to") if cmd.to else None,
            created_after=model.parse_time(cmd.created_after, "created_after") if cmd.created_after else None,
            created_before=model.parse_time(cmd.created_before, "created_before") if cmd.created_before else None,
            cursor_ts=cursor_ts, cursor_id=cursor_id)
        rows = await store.list_messages(self.es.pool, f)
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        nxt = encode_cursor(rows[-1]["created_at"].isoformat(), rows[-1]["id"]) if more and rows else None
        return c.MessagePage(data=[store.view(r) for r in rows], next_cursor=nxt)

    async def callbacks(self, cmd: c.ListStatusCallbacks) -> list[c.StatusCallbackView]:
        message_id = model.parse_uuid(cmd.message_id)
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
