"""The ``messages`` table as a projection of the Message aggregate's events: a write appends the events
``model.decide`` chose and sets each row to ``model.fold`` of them, adds a timeline entry per status
change and queues its status callback — one statement for a whole batch, in the caller's transaction.
Besides events, only the dispatcher's bookkeeping is written here (a lease, a postponed attempt, a
receipt held for a message not yet sent): none of it is a status."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from libs.store.eventstore import ConcurrencyError, EventStore
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


def _timeline(writes: list[Write]) -> tuple[list[list[Any]], list[tuple[Event, model.Message]]]:
    """The timeline rows (status changes only), as columns, and the changes that are called back."""
    cols: list[list[Any]] = [[], [], [], [], [], []]
    called: list[tuple[Event, model.Message]] = []
    for w in writes:
        for ev, s in zip(w.events, w.steps, strict=True):
            if not model.changes_status(ev):
                continue
            for col, v in zip(cols, (s.id, s.version, s.status, s.status_reason, ev.occurred_at, ev.event_id),
                              strict=True):
                col.append(v)
            if s.status_callback_url:
                called.append((ev, s))
    return cols, called


_TIMELINE = ("INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
             " SELECT * FROM unnest({}::uuid[], {}::int[], {}::text[], {}::text[], {}::timestamptz[], {}::uuid[])")


def _params(first: int, n: int) -> list[str]:
    return [f"${first + i}" for i in range(n)]


async def insert(conn: asyncpg.Connection | asyncpg.Pool, es: EventStore, writes: list[Write]) -> None:
    """New messages (each write one accepting event), as one statement: their events, rows and first
    timeline entries. Any conflict (a message id taken) fails the whole statement, nothing written.
    Their status callbacks need the caller's transaction (``callbacks``)."""
    cols: list[list[Any]] = [[] for _ in range(24)]
    for w in writes:
        m = w.after
        for col, value in zip(cols, (
                m.id, m.org_id, m.version, m.from_number, m.to_number, m.body, m.status, m.status_reason,
                m.category, m.kind, m.segments, m.encoding, m.price_micros, m.phone_number_id, m.campaign_id,
                m.throughput_mpm, m.status_callback_url, m.send_at, m.validity_seconds, m.expires_at,
                m.next_attempt_at, m.created_at, m.deferred_by, w.events[0].event_id), strict=True):
            col.append(value)
    append, ev_args = es.append_rows_cte([(store.stream_id(w.after.id), 1, w.events[0]) for w in writes], 25)
    await conn.execute(
        "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::bigint[], $14::text[],"
        " $15::text[], $16::int[], $17::text[], $18::timestamptz[], $19::int[], $20::timestamptz[],"
        " $21::timestamptz[], $22::timestamptz[], $23::text[], $24::uuid[]) AS v(id, org_id, version, from_number,"
        "  to_number, body, status, status_reason, category, kind, segments, encoding, price_micros,"
        "  phone_number_id, campaign_id, throughput_mpm, status_callback_url, send_at, validity_seconds,"
        "  expires_at, next_attempt_at, at, deferred_by, event_id)),"
        f" ev AS ({append}),"
        " m AS (INSERT INTO messages (id, org_id, version, from_number, to_number, body, status, status_reason,"
        "  category, kind, segments, encoding, price_micros, phone_number_id, campaign_id, throughput_mpm,"
        "  status_callback_url, send_at, validity_seconds, expires_at, next_attempt_at, created_at, updated_at,"
        "  deferred_by)"
        "  SELECT id, org_id, version, from_number, to_number, body, status, status_reason, category, kind,"
        "  segments, encoding, price_micros, phone_number_id, campaign_id, throughput_mpm, status_callback_url,"
        "  send_at, validity_seconds, expires_at, next_attempt_at, at, at, deferred_by FROM v),"
        " t AS (INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
        "  SELECT id, version, status, status_reason, at, event_id FROM v)"
        f" SELECT {es.notify_sql(33)}",
        *cols, *ev_args, es.notify_channel(),
    )
    es.appended(len(writes))


_UPDATE = (
    "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[],"
    " $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::text[], $12::text[],"
    " $13::timestamptz[], $14::uuid[], $15::text[]) AS v(id, old, version, status, status_reason, error_code,"
    " updated_at, next_attempt_at, expires_at, attempts, carrier_message_id, deferred_by, claimed_until,"
    " claim_id, pending_receipt)),"
    " ev AS ({append}),"
    " m AS (UPDATE messages SET version = v.version, status = v.status, status_reason = v.status_reason,"
    "  error_code = v.error_code, updated_at = v.updated_at, next_attempt_at = v.next_attempt_at,"
    "  expires_at = v.expires_at, attempts = v.attempts, carrier_message_id = v.carrier_message_id,"
    "  deferred_by = v.deferred_by, claimed_until = v.claimed_until, claim_id = v.claim_id,"
    "  pending_receipt = v.pending_receipt::jsonb"
    "  FROM v WHERE messages.id = v.id AND messages.version = v.old RETURNING 1),"
    " t AS ({timeline})"
    " SELECT (SELECT count(*) FROM m) AS n, {notify}"
)


async def write(conn: asyncpg.Connection, es: EventStore, writes: list[Write]) -> list[model.Message]:
    """The events of many locked messages (one write each), as one statement: events appended at each
    message's version, rows set to the states they lead to, timeline entries; then their status
    callbacks. Answers the new states, in order. Raises ConcurrencyError (the caller's transaction
    must roll back) when a message moved on meanwhile."""
    writes = [w for w in writes if w.events]
    if not writes:
        return []
    cols: list[list[Any]] = [[] for _ in range(15)]
    for w in writes:
        m, held = w.after, w.after.held
        for col, value in zip(cols, (
                m.id, w.before.version, m.version, m.status, m.status_reason, m.error_code, m.updated_at,
                m.next_attempt_at, m.expires_at, m.attempts, m.carrier_message_id, m.deferred_by, m.claimed_until,
                m.claim_id, _enc.encode(held).decode() if held is not None else None), strict=True):
            col.append(value)
    append, ev_args = es.append_rows_cte([(store.stream_id(s.id), s.version, ev) for w in writes
                                          for ev, s in zip(w.events, w.steps, strict=True)], 16)
    tl, called = _timeline(writes)
    sql = _UPDATE.format(append=append, timeline=_TIMELINE.format(*_params(24, 6)), notify=es.notify_sql(30))
    try:
        n = await conn.fetchval(sql, *cols, *ev_args, *tl, es.notify_channel())
    except asyncpg.UniqueViolationError as exc:
        raise ConcurrencyError(store.stream_id(writes[0].after.id), writes[0].before.version) from exc
    if n != len(writes):
        raise ConcurrencyError(store.stream_id(writes[0].after.id), writes[0].before.version)
    es.appended(len(ev_args[0]))
    await _callbacks(conn, es, called)
    return [w.after for w in writes]


async def callbacks(conn: asyncpg.Connection, es: EventStore, writes: list[Write]) -> None:
    """Queue the status callbacks of these writes (for ``insert``, whose statement has no room for them)."""
    await _callbacks(conn, es, _timeline(writes)[1])


async def _callbacks(conn: asyncpg.Connection, es: EventStore, called: list[tuple[Event, model.Message]]) -> None:
    """Each status change of a message with a status_callback_url, queued for the sender (the body shows
    the message as that change left it)."""
    if not called:
        return
    cols: list[list[Any]] = [[] for _ in range(8)]
    for ev, s in called:
        body = _enc.encode({"event_id": ev.event_id, "type": "message.status",
                            "occurred_at": rfc3339(ev.occurred_at), "message": store.view(s)})
        for col, v in zip(cols, (ev.event_id, s.org_id, s.id, s.from_number, s.status, s.status_callback_url, body,
                                 ev.occurred_at), strict=True):
            col.append(v)
    await conn.execute(
        "INSERT INTO status_callbacks (id, org_id, message_id, from_number, status, url, body, next_attempt_at,"
        " created_at) SELECT *, t FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],"
        " $6::text[], $7::bytea[], $8::timestamptz[]) AS v(i, o, m, f, s, u, b, t) ON CONFLICT DO NOTHING", *cols)
    await conn.execute("SELECT pg_notify($1, '')", store.callback_channel(es.schema))


# -- bookkeeping (no event: nothing happened to the message) -------------------------------------------
async def postpone(conn: asyncpg.Connection, message_id: str, at: datetime) -> None:
    """Try again at ``at``; the claim ends."""
    await conn.execute("UPDATE messages SET next_attempt_at = $2, claimed_until = NULL, claim_id = NULL"
                       " WHERE id = $1::uuid", message_id, at)


async def hold(conn: asyncpg.Connection, held: dict[str, Receipt]) -> None:
    """Final receipts that came before their messages were sent: each waits on its message."""
    if held:
        await conn.execute(
            "UPDATE messages SET pending_receipt = v.p::jsonb FROM unnest($1::uuid[], $2::text[]) AS v(id, p)"
            " WHERE messages.id = v.id", list(held), [_enc.encode(r).decode() for r in held.values()])
