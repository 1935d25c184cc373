"""The ``messages`` table as a projection of the Message aggregate's events: a write appends the events
``model.decide`` chose and sets each row to ``model.fold`` of them, adds a timeline entry per status
change and queues its status callback — one statement for a whole batch, in the caller's transaction.
Besides events, only the dispatcher's bookkeeping is written here (a lease, a postponed attempt, a
receipt held for a message not yet sent): none of it is a status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import msgspec
from msgspec.structs import replace

from libs.store import ConcurrencyError, Sql, sql, table
from libs.store import Write as StoreWrite
from libs.store.eventstore import EventStore
from proto.base import Event, rfc3339
from services.outbound import model, store
from services.outbound.rules import Receipt

_enc = msgspec.json.Encoder()


@dataclass(frozen=True)
class Write:
    """A message before, the events decided for it, and the states they leave it in, one per event."""

    before: model.Message
    events: tuple[Event, ...]
    steps: tuple[model.Message, ...] = field(default=())

    @property
    def after(self) -> model.Message:
        return self.steps[-1] if self.steps else self.before


def write_of(before: model.Message, events: tuple[Event, ...], lease: datetime | None = None) -> Write:
    """The write of ``events`` (``lease``: the dispatcher's, for a message it is handing to the carrier)."""
    steps: list[model.Message] = []
    s = before
    for ev in events:
        s = model.evolve(s, ev)
        steps.append(s)
    if lease is not None and steps:
        steps[-1] = replace(steps[-1], claimed_until=lease)
    return Write(before, events, tuple(steps))


def _timeline(writes: list[Write]) -> tuple[list[tuple[object, ...]], list[tuple[Event, model.Message]]]:
    """The timeline rows (status changes only) and the changes that are called back."""
    rows: list[tuple[object, ...]] = []
    called: list[tuple[Event, model.Message]] = []
    for w in writes:
        for ev, s in zip(w.events, w.steps, strict=True):
            if model.changes_status(ev):
                rows.append((s.id, s.version, s.status, s.status_reason, ev.occurred_at, ev.event_id))
                if s.status_callback_url:
                    called.append((ev, s))
    return rows, called


_TIMELINE = {"message_id": "uuid", "seq": "int", "status": "text", "reason": "text", "at": "timestamptz",
             "event_id": "uuid"}
_NEW = {"id": "uuid", "org_id": "uuid", "version": "int", "from_number": "text", "to_number": "text", "body": "text",
        "status": "text", "status_reason": "text", "category": "text", "kind": "text", "segments": "int",
        "encoding": "text", "price_micros": "bigint", "phone_number_id": "text", "campaign_id": "text",
        "throughput_mpm": "int", "status_callback_url": "text", "send_at": "timestamptz", "validity_seconds": "int",
        "expires_at": "timestamptz", "next_attempt_at": "timestamptz", "at": "timestamptz", "deferred_by": "text"}
_NEW_COLUMNS = ", ".join(c for c in _NEW if c != "at")
_CHANGED = {"id": "uuid", "old": "int", "version": "int", "status": "text", "status_reason": "text",
            "error_code": "text", "updated_at": "timestamptz", "next_attempt_at": "timestamptz",
            "expires_at": "timestamptz", "attempts": "int", "carrier_message_id": "text", "deferred_by": "text",
            "claimed_until": "timestamptz", "claim_id": "uuid", "pending_receipt": "text"}


def _timeline_projection(rows: list[tuple[object, ...]]) -> Sql:
    return sql("INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
               " SELECT message_id, seq, status, reason, at, event_id FROM :t", t=table("t", _TIMELINE, rows))


async def insert(es: EventStore, writes: list[Write], conn: asyncpg.Connection | None = None) -> None:
    """New messages (each write one accepting event), as one statement: their events, rows and first
    timeline entries (in ``conn``'s transaction, or one of its own). Any conflict (a message id taken)
    fails the whole statement, nothing written. Their status callbacks need a transaction (``callbacks``)."""
    w = StoreWrite()
    rows: list[tuple[object, ...]] = []
    for x in writes:
        m = x.after
        w.append(store.stream_id(m.id), 0, x.events)
        rows.append((m.id, m.org_id, m.version, m.from_number, m.to_number, m.body, m.status, m.status_reason,
                     m.category, m.kind, m.segments, m.encoding, m.price_micros, m.phone_number_id, m.campaign_id,
                     m.throughput_mpm, m.status_callback_url, m.send_at, m.validity_seconds, m.expires_at,
                     m.next_attempt_at, m.created_at, m.deferred_by))
    w.project(sql("SELECT * FROM :v", v=table("v", _NEW, rows)), name="v")
    w.project(sql(f"INSERT INTO messages ({_NEW_COLUMNS}, created_at, updated_at)"
                  f" SELECT {_NEW_COLUMNS}, at, at FROM v"))
    w.project(_timeline_projection(_timeline(writes)[0]))
    await es.write(w, conn)


async def write(conn: asyncpg.Connection, es: EventStore, writes: list[Write]) -> list[model.Message]:
    """The events of many locked messages (one write each), as one statement: events appended at each
    message's version, rows set to the states they lead to, timeline entries; then their status
    callbacks. Answers the new states, in order. Raises ConcurrencyError (the caller's transaction
    must roll back) when a message moved on meanwhile."""
    writes = [x for x in writes if x.events]
    if not writes:
        return []
    w, called = changes(writes)
    [result] = await es.write(w, conn)
    if result["n"] != len(writes):
        raise ConcurrencyError(store.stream_id(writes[0].after.id), writes[0].before.version)
    await _callbacks(conn, es, called)
    return [x.after for x in writes]


def changes(writes: list[Write]) -> tuple[StoreWrite, list[tuple[Event, model.Message]]]:
    """``write``'s statement for writes that all have events (it answers how many rows it changed, ``n``),
    and the status changes to call back. The rows are named by their ids too (an index condition: joined
    to the batch alone, a row count from before the table grew can make a walk of its key look cheap)."""
    w = StoreWrite()
    rows: list[tuple[object, ...]] = []
    for x in writes:
        m, held = x.after, x.after.held
        w.append(store.stream_id(m.id), x.before.version, x.events)
        rows.append((m.id, x.before.version, m.version, m.status, m.status_reason, m.error_code, m.updated_at,
                     m.next_attempt_at, m.expires_at, m.attempts, m.carrier_message_id, m.deferred_by,
                     m.claimed_until, m.claim_id, _enc.encode(held).decode() if held is not None else None))
    w.project(sql(
        "UPDATE messages SET version = v.version, status = v.status, status_reason = v.status_reason,"
        " error_code = v.error_code, updated_at = v.updated_at, next_attempt_at = v.next_attempt_at,"
        " expires_at = v.expires_at, attempts = v.attempts, carrier_message_id = v.carrier_message_id,"
        " deferred_by = v.deferred_by, claimed_until = v.claimed_until, claim_id = v.claim_id,"
        " pending_receipt = v.pending_receipt::jsonb FROM :v WHERE messages.id = ANY(:ids::uuid[])"
        " AND messages.id = v.id AND messages.version = v.old RETURNING 1",
        v=table("v", _CHANGED, rows), ids=[x.after.id for x in writes]), name="m")
    timeline, called = _timeline(writes)
    w.project(_timeline_projection(timeline))
    return w.returning(sql("SELECT count(*) AS n FROM m")), called


async def callbacks(conn: asyncpg.Connection, es: EventStore, writes: list[Write]) -> None:
    """Queue the status callbacks of these writes (for ``insert``, whose statement has no room for them)."""
    await _callbacks(conn, es, _timeline(writes)[1])


async def _callbacks(conn: asyncpg.Connection, es: EventStore, called: list[tuple[Event, model.Message]]) -> None:
    """Each status change of a message with a status_callback_url, queued for the sender (the body shows
    the message as that change left it)."""
    if not called:
        return
    rows: list[tuple[object, ...]] = []
    for ev, s in called:
        body = _enc.encode({"event_id": ev.event_id, "type": "message.status",
                            "occurred_at": rfc3339(ev.occurred_at), "message": store.view(s)})
        rows.append((ev.event_id, s.org_id, s.id, s.from_number, s.status, s.status_callback_url, body,
                     ev.occurred_at))
    text, args = sql(
        "INSERT INTO status_callbacks (id, org_id, message_id, from_number, status, url, body, next_attempt_at,"
        " created_at) SELECT id, org_id, message_id, from_number, status, url, body, at, at FROM :v"
        " ON CONFLICT DO NOTHING", v=table("v", _CALLBACK, rows)).compile()
    await conn.execute(text, *args)
    await notify(conn, store.callback_channel(es.schema))


async def notify(conn: asyncpg.Connection, channel: str) -> None:
    """Wake the listeners of ``channel`` (the dispatcher, the callback sender) at commit."""
    text, args = sql("SELECT pg_notify(:ch, '')", ch=channel).compile()
    await conn.execute(text, *args)


_CALLBACK = {"id": "uuid", "org_id": "uuid", "message_id": "uuid", "from_number": "text", "status": "text",
             "url": "text", "body": "bytea", "at": "timestamptz"}


# -- bookkeeping (no event: nothing happened to the message) -------------------------------------------
async def postpone(conn: asyncpg.Connection, message_id: str, at: datetime) -> None:
    """Try again at ``at``; the claim ends."""
    text, args = sql("UPDATE messages SET next_attempt_at = :at, claimed_until = NULL, claim_id = NULL"
                     " WHERE id = :id::uuid", at=at, id=message_id).compile()
    await conn.execute(text, *args)


async def hold(conn: asyncpg.Connection, held: dict[str, Receipt]) -> None:
    """Final receipts that came before their messages were sent: each waits on its message."""
    if held:
        text, args = holding(held).compile()
        await conn.execute(text, *args)


def holding(held: dict[str, Receipt]) -> Sql:
    """``hold``'s statement (the messages named by their ids, an index condition, as in ``changes``)."""
    return sql("UPDATE messages SET pending_receipt = v.p::jsonb FROM :v"
               " WHERE messages.id = ANY(:ids::uuid[]) AND messages.id = v.id",
               v=table("v", {"id": "uuid", "p": "text"}, [(mid, _enc.encode(r).decode()) for mid, r in held.items()]),
               ids=list(held))
