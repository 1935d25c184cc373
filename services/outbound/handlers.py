"""outbound command handlers: accept a message (validated here, then decided in the accept batch,
accept.py), cancel one (the aggregate decides), and read messages back."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import structlog
from nats.aio.client import Client

from libs.bus.rpc import RpcClient, fault_of
from libs.obs.tracing import server_span
from libs.phone import normalize_e164
from libs.store.eventstore import EventStore
from libs.webhooks import urls
from proto.api import page_after, time_cursor
from proto.base import CommandError, NotFound, new_id, parse_time, parse_uuid, rfc3339, utcnow
from proto.commands import outbound as c
from proto.subjects import Subjects
from services.outbound import accept, model, projection, rules, store
from services.outbound.commands import Cancel
from services.outbound.config import OutboundSettings
from services.outbound.senders import Senders

log = structlog.get_logger(__name__)


def phone(value: str, field: str) -> str:
    try:
        return normalize_e164(value)
    except ValueError as exc:
        raise rules.invalid(field, str(exc)) from exc


class Outbound:
    def __init__(self, rpc: RpcClient, es: EventStore, settings: OutboundSettings,
                 wake: Callable[[set[tuple[str, str]]], None] = lambda due: None,
                 dispatching: Callable[[], bool] = lambda: False):
        self.rpc = rpc
        self.es = es
        self.settings = settings
        self.senders = Senders(rpc, settings.accept_sender_cache_s)
        self.acceptor = accept.Acceptor(rpc, es, settings, self.senders, wake, dispatching)

    async def close(self) -> None:
        await self.acceptor.close()

    async def follow_numbers(self, nc: Client, subjects: Subjects) -> None:
        await self.senders.follow(nc, subjects)

    # -- send ------------------------------------------------------------------------------------
    async def send(self, cmd: c.SendMessage) -> c.MessageView:
        """Validate here; then the send joins a batch that is accepted together (accept.py)."""
        s, now = self.settings, utcnow()
        text = rules.validate_text(cmd.text)
        from_, to = phone(cmd.from_, "from"), phone(cmd.to, "to")
        if to == from_:
            raise rules.invalid("to", "must not be the sending number itself")
        send_at = rules.parse_send_at(cmd.send_at, now, s.max_schedule_days)
        validity = rules.validate_validity(cmd.validity_seconds, s.default_validity_s, s.max_validity_s)
        callback_url = (await urls.check_url(cmd.status_callback_url, "status_callback_url", s.env)
                        if cmd.status_callback_url and cmd.status_callback_url.strip() else None)
        if cmd.message_id is not None:
            message_id = parse_uuid(cmd.message_id)
            if message_id is None:
                raise rules.invalid("message_id", "must be a UUID")
            found = await accept.existing(self.es, s, cmd.org_id, message_id)
            if found is not None:
                return found
        else:
            message_id = new_id()
        segments, encoding = rules.count_segments(text)
        answer = await self.acceptor.submit(accept.Accepting(
            cmd=cmd, message_id=message_id, from_=from_, to=to, text=text, send_at=send_at, validity=validity,
            callback_url=callback_url, segments=segments, encoding=encoding, now=now))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def send_many(self, cmd: c.SendMessages) -> c.SendResults:
        """``send`` for each (the gateway's sends in flight together), each in its own trace, each answered
        as it would be alone."""

        async def one(item: c.BatchedSend) -> c.SendResult:
            with server_span("send_message", {"traceparent": item.traceparent} if item.traceparent else None):
                try:
                    return c.SendResult(message=await self.send(item.command))
                except Exception as exc:
                    return c.SendResult(error=fault_of(exc, "outbound", "send_message")[0])

        return c.SendResults(results=list(await asyncio.gather(*(one(item) for item in cmd.sends))))

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
            m = await store.fetch(conn, cmd.org_id, message_id, for_update=True)
            if m is None:
                raise NotFound("message")
            d = model.decide(m, Cancel(model.CANCELED_BY_USER, model.CANCELED_BY_USER))
            if d.outcome == "not_cancelable":  # (a second cancel answers the canceled message)
                raise CommandError("MESSAGE_NOT_CANCELABLE", d.reason, 409, {"status": m.status})
            if d.events:
                [m] = await projection.write(conn, self.es, [projection.write_of(m, d.events)])
                log.info("message_canceled", message_id=message_id, org_id=cmd.org_id)
            timeline = await store.timeline(conn, m.id)
        return store.detail(m, timeline)

    # -- read ------------------------------------------------------------------------------------
    async def get(self, cmd: c.GetMessage) -> c.MessageDetail:
        message_id = parse_uuid(cmd.message_id)
        m = await store.fetch(self.es.pool, cmd.org_id, message_id) if message_id else None
        if m is None:
            raise NotFound("message")
        timeline = await store.timeline(self.es.pool, m.id)
        if m.status == "queued":
            ahead = await store.queue_position(self.es.pool, m)
            return store.detail(m, timeline, queue_position=ahead.messages,
                                expected_send_at=accept.expected(self.settings, m, ahead, utcnow()))
        return store.detail(m, timeline)

    async def list_messages(self, cmd: c.ListMessages) -> c.MessagePage:
        statuses = None
        if cmd.status:
            statuses = [x.strip().lower() for x in cmd.status.split(",") if x.strip()]
            bad = [x for x in statuses if x not in model.STATUSES]
            if bad:
                raise rules.invalid("status", f"unknown status {bad[0]!r}; one of {', '.join(model.STATUSES)}")
        cursor_ts, cursor_id = page_after(cmd.cursor)
        f = store.ListFilter(
            org_id=cmd.org_id, limit=cmd.limit, statuses=statuses,
            from_number=phone(cmd.from_, "from") if cmd.from_ else None,
            to_number=phone(cmd.to, "to") if cmd.to else None,
            created_after=parse_time(cmd.created_after, "created_after") if cmd.created_after else None,
            created_before=parse_time(cmd.created_before, "created_before") if cmd.created_before else None,
            cursor_ts=cursor_ts, cursor_id=cursor_id)
        found = await store.list_messages(self.es.pool, f)
        more = len(found) > cmd.limit
        found = found[: cmd.limit]
        last = found[-1] if more and found else None
        nxt = time_cursor(last.created_at, last.id) if last and last.created_at else None
        return c.MessagePage(data=[store.view(m) for m in found], next_cursor=nxt)

    async def callbacks(self, cmd: c.ListStatusCallbacks) -> list[c.StatusCallbackView]:
        message_id = parse_uuid(cmd.message_id)
        m = await store.fetch(self.es.pool, cmd.org_id, message_id) if message_id else None
        if m is None:
            raise NotFound("message")
        rows = await self.es.pool.fetch(
            "SELECT id::text AS id, status, url, state, attempts, last_status_code, last_error, next_attempt_at,"
            " created_at, finished_at FROM status_callbacks WHERE message_id = $1::uuid ORDER BY seq", m.id)
        return [c.StatusCallbackView(
            event_id=r["id"], status=r["status"], url=r["url"], state=r["state"], attempts=r["attempts"],
            last_status_code=r["last_status_code"], last_error=r["last_error"],
            next_attempt_at=rfc3339(r["next_attempt_at"]) if r["state"] == "pending" else None,
            created_at=rfc3339(r["created_at"]), finished_at=rfc3339(r["finished_at"]) if r["finished_at"] else None)
            for r in rows]

    async def callback_secret(self, cmd: c.GetCallbackSecret) -> c.CallbackSecretView:
        secret = await store.org_secret(self.es.pool, cmd.org_id, "whsec_" + secrets.token_urlsafe(32))
        return c.CallbackSecretView(secret=secret)
