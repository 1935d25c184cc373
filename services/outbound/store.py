"""outbound's SQL: the messages read model, its timeline, and ``transition`` — the one way a message
changes status (append the event, update the read model and timeline, queue the status callback, all
in the caller's transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from libs.store.eventstore import EventStore
from proto.api import format_money
from proto.base import Event, rfc3339
from proto.commands.outbound import MessageDetail, MessageView, TimelineEntry
from proto.events.outbound import MessageCanceled
from services.outbound import model

COLUMNS = (
    "id::text AS id, org_id::text AS org_id, version, from_number, to_number, body, status, status_reason,"
    " error_code, category, kind, segments, encoding, price_micros, phone_number_id, campaign_id,"
    " throughput_mpm, status_callback_url, send_at, validity_seconds, expires_at, next_attempt_at,"
    " claimed_until, claim_id::text AS claim_id, attempts, carrier_message_id, pending_receipt::text AS"
    " pending_receipt, created_at, updated_at, deferred_by"
)
_SETTABLE = frozenset({
    "error_code", "next_attempt_at", "claimed_until", "claim_id", "attempts", "carrier_message_id",
    "pending_receipt", "expires_at", "send_at", "deferred_by",
})
_enc = msgspec.json.Encoder()


class IllegalTransition(Exception):
    """The message is no longer in a status that allows this change (someone else moved it first)."""


def stream_id(message_id: str) -> str:
    return f"message-{message_id}"


async def lock(conn: asyncpg.Connection, message_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM messages WHERE id = $1::uuid FOR UPDATE", message_id)


async def fetch(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, message_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM messages WHERE id = $1::uuid AND org_id = $2::uuid",
                               message_id, org_id)


_INSERT_MESSAGE = (
    # parameters $1 … $22 (see _message_args): $6 is the status, $7 its reason, $21 the time
    "INSERT INTO messages (id, org_id, version, from_number, to_number, body, status, status_reason, category,"
    " kind, segments, encoding, price_micros, phone_number_id, campaign_id, throughput_mpm,"
    " status_callback_url, send_at, validity_seconds, expires_at, next_attempt_at, created_at, updated_at,"
    " deferred_by)"
    " VALUES ($1::uuid, $2::uuid, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
    f" $19, $20, $21, $21, $22) RETURNING {COLUMNS}"
)


def _message_args(message_id: str, org_id: str, status: str, reason: str | None, values: dict[str, Any],
                  now: datetime) -> list[Any]:
    return [message_id, org_id, values["from_number"], values["to_number"], values["body"], status, reason,
            values["category"], values["kind"], values["segments"], values["encoding"], values["price_micros"],
            values["phone_number_id"], values["campaign_id"], values["throughput_mpm"],
            values["status_callback_url"], values["send_at"], values["validity_seconds"], values["expires_at"],
            values["next_attempt_at"], now, values.get("deferred_by")]


@dataclass(frozen=True)
class NewMessage:
    """A message about to be written: its first status, first event and columns (see _message_args)."""

    message_id: str
    org_id: str
    status: str
    reason: str | None
    event: Event
    values: dict[str, Any]
    now: datetime


async def insert(conn: asyncpg.Connection, es: EventStore, m: NewMessage) -> asyncpg.Record:
    """A new message: its first event, its row, its first timeline entry and callback."""
    await es.append(conn, stream_id(m.message_id), 0, [m.event])
    row = await conn.fetchrow(_INSERT_MESSAGE, *_message_args(m.message_id, m.org_id, m.status, m.reason,
                                                              m.values, m.now))
    assert row is not None
    await _after_change(conn, es, row, m.event, m.status, m.reason)
    return row


async def insert_now(pool: asyncpg.Pool, es: EventStore, m: NewMessage) -> asyncpg.Record:
    """``insert`` for a message without a status callback, as one statement (its own transaction): the
    event, the row and the first timeline entry in one round trip instead of five."""
    append, ev_args = es.append_cte(stream_id(m.message_id), 1, m.event, 23, "(SELECT 1) AS one")
    row: asyncpg.Record | None = await pool.fetchrow(
        f"WITH ev AS ({append}), m AS ({_INSERT_MESSAGE}),"
        " t AS (INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
        "  VALUES ($1::uuid, 1, $6, $7, $21, $25::uuid))"
        f" SELECT m.*, {es.notify_sql(31)} AS woken FROM m",
        *_message_args(m.message_id, m.org_id, m.status, m.reason, m.values, m.now), *ev_args, es.notify_channel(),
    )
    assert row is not None
    es.appended(1)
    es.committed()
    return row


_MESSAGE_ARRAYS = (
    "$1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
    " $10::int[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::int[], $16::text[],"
    " $17::timestamptz[], $18::int[], $19::timestamptz[], $20::timestamptz[], $21::timestamptz[], $22::text[],"
    " $23::uuid[]"
)


async def insert_many(es: EventStore, messages: list[NewMessage]) -> list[asyncpg.Record]:
    """``insert_now`` for many messages, as one statement: their events, rows and first timeline
    entries. Any conflict (a message id taken) fails the whole statement, nothing written."""
    columns: list[list[Any]] = [[] for _ in range(23)]
    for m in messages:
        for col, value in zip(columns, [*_message_args(m.message_id, m.org_id, m.status, m.reason, m.values,
                                                      m.now), m.event.event_id], strict=True):
            col.append(value)
    append, ev_args = es.append_rows_cte([(stream_id(m.message_id), 1, m.event) for m in messages], 24)
    rows: list[asyncpg.Record] = await es.pool.fetch(
        f"WITH v AS (SELECT * FROM unnest({_MESSAGE_ARRAYS}) AS v(id, org_id, from_number, to_number, body, status,"
        "  status_reason, category, kind, segments, encoding, price_micros, phone_number_id, campaign_id,"
        "  throughput_mpm, status_callback_url, send_at, validity_seconds, expires_at, next_attempt_at, at,"
        "  deferred_by, event_id)),"
        f" ev AS ({append}),"
        " m AS (INSERT INTO messages (id, org_id, version, from_number, to_number, body, status, status_reason,"
        "  category, kind, segments, encoding, price_micros, phone_number_id, campaign_id, throughput_mpm,"
        "  status_callback_url, send_at, validity_seconds, expires_at, next_attempt_at, created_at, updated_at,"
        "  deferred_by)"
        "  SELECT id, org_id, 1, from_number, to_number, body, status, status_reason, category, kind, segments,"
        "  encoding, price_micros, phone_number_id, campaign_id, throughput_mpm, status_callback_url, send_at,"
        f"  validity_seconds, expires_at, next_attempt_at, at, at, deferred_by FROM v RETURNING {COLUMNS}),"
        " t AS (INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
        "  SELECT id, 1, status, status_reason, at, event_id FROM v)"
        f" SELECT m.*, (SELECT {es.notify_sql(32)}) AS woken FROM m",
        *columns, *ev_args, es.notify_channel(),
    )
    es.appended(len(messages))
    es.committed()
    return rows


async def transition(conn: asyncpg.Connection, es: EventStore, row: asyncpg.Record, event: Event, status: str,
                     reason: str | None, **changes: Any) -> asyncpg.Record:
    """Move a locked message to ``status``: append ``event`` at the row's version, update the row (plus
    ``changes``), add the timeline entry and queue the status callback. Raises IllegalTransition."""
    if not model.can_transition(row["status"], status):
        raise IllegalTransition(f"{row['status']} -> {status}")
    await es.append(conn, stream_id(row["id"]), row["version"], [event])
    cols = ["status = $2", "status_reason = $3", "version = version + 1", "updated_at = $4"]
    args: list[Any] = [row["id"], status, reason, event.occurred_at]
    for name, value in changes.items():
        assert name in _SETTABLE, name
        args.append(value)
        cast = "::uuid" if name == "claim_id" else "::jsonb" if name == "pending_receipt" else ""
        cols.append(f"{name} = ${len(args)}{cast}")
    new = await conn.fetchrow(f"UPDATE messages SET {', '.join(cols)} WHERE id = $1::uuid RETURNING {COLUMNS}",
                              *args)
    assert new is not None
    await _after_change(conn, es, new, event, status, reason)
    return new


_CHANGE_TYPES = {
    "error_code": "text", "next_attempt_at": "timestamptz", "claimed_until": "timestamptz", "claim_id": "uuid",
    "attempts": "int", "carrier_message_id": "text", "pending_receipt": "text", "expires_at": "timestamptz",
    "send_at": "timestamptz", "deferred_by": "text",
}
assert set(_CHANGE_TYPES) == _SETTABLE


@dataclass(frozen=True)
class Change:
    """One ``transition`` of a locked message: to ``status``, appending ``event``, plus ``changes``."""

    row: asyncpg.Record
    event: Event
    status: str
    reason: str | None
    changes: dict[str, Any]


async def lock_many(conn: asyncpg.Connection, message_ids: list[str]) -> dict[str, asyncpg.Record]:
    """Lock several messages, always in id order (so two batches sharing messages cannot deadlock)."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
                            message_ids)
    return {r["id"]: r for r in rows}


async def transition_many(conn: asyncpg.Connection, es: EventStore, changes: list[Change]) -> list[asyncpg.Record]:
    """``transition`` for many locked messages (each at most once), in one statement per kind of change:
    their events, rows and timeline entries. A message with a status callback URL goes through
    ``transition`` (its callback shows the row after the change). Answers the new rows, in order.
    Raises IllegalTransition, and fails the caller's transaction on a version conflict."""
    out: dict[int, asyncpg.Record] = {}
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, ch in enumerate(changes):
        if not model.can_transition(ch.row["status"], ch.status):
            raise IllegalTransition(f"{ch.row['status']} -> {ch.status}")
        if ch.row["status_callback_url"]:
            out[i] = await transition(conn, es, ch.row, ch.event, ch.status, ch.reason, **ch.changes)
        else:
            groups.setdefault(tuple(sorted(ch.changes)), []).append(i)
    for names, idx in groups.items():
        group = [changes[i] for i in idx]
        base = ["$1::uuid[]", "$2::text[]", "$3::text[]", "$4::timestamptz[]", "$5::uuid[]", "$6::int[]"]
        arrays = base + [f"${7 + k}::{_CHANGE_TYPES[n]}[]" for k, n in enumerate(names)]
        args: list[Any] = [[ch.row["id"] for ch in group], [ch.status for ch in group], [ch.reason for ch in group],
                           [ch.event.occurred_at for ch in group], [ch.event.event_id for ch in group],
                           [ch.row["version"] + 1 for ch in group]]
        args += [[ch.changes[n] for ch in group] for n in names]
        append, ev_args = es.append_rows_cte([(stream_id(ch.row["id"]), ch.row["version"] + 1, ch.event)
                                              for ch in group], len(args) + 1)
        sets = "".join(f", {n} = v.{n}{'::jsonb' if n == 'pending_receipt' else ''}" for n in names)
        rows = await conn.fetch(
            f"WITH v AS (SELECT * FROM unnest({', '.join(arrays)}) AS v(id, status, reason, at, event_id, seq"
            f"{''.join(', ' + n for n in names)})),"
            f" ev AS ({append}),"
            " m AS (UPDATE messages SET status = v.status, status_reason = v.reason, version = messages.version + 1,"
            f"  updated_at = v.at{sets} FROM v WHERE messages.id = v.id RETURNING {_qualified('messages')}),"
            " t AS (INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
            "  SELECT id, seq, status, reason, at, event_id FROM v)"
            f" SELECT m.*, (SELECT {es.notify_sql(len(args) + 9)}) AS woken FROM m",
            *args, *ev_args, es.notify_channel(),
        )
        if len(rows) != len(group):
            raise IllegalTransition(f"{len(group) - len(rows)} of {len(group)} messages vanished")
        es.appended(len(group))
        by_id = {r["id"]: r for r in rows}
        for i in idx:
            out[i] = by_id[changes[i].row["id"]]
    return [out[i] for i in range(len(changes))]


def _qualified(table: str) -> str:
    """COLUMNS, each taken from ``table`` (an UPDATE … FROM has other columns of the same names)."""
    return ", ".join(f"{table}.{c.strip()}" for c in COLUMNS.split(","))


async def cancel(conn: asyncpg.Connection, es: EventStore, rows: list[asyncpg.Record], code: str, reason: str,
                      cause: Event | None = None, opt_out_event_id: str = "") -> list[asyncpg.Record]:
    """Cancel locked pending messages (``MessageCanceled`` with ``code``; accounts refunds each, and each
    status callback is queued), in the caller's transaction."""
    changes = [Change(row, MessageCanceled(
        org_id=row["org_id"], message_id=row["id"], reason=reason, reservation_id=row["id"], code=code,
        opt_out_event_id=opt_out_event_id, causation_id=cause.event_id if cause else None,
        correlation_id=cause.correlation_id if cause else None),
        "canceled", reason, {"error_code": code, "claimed_until": None, "claim_id": None}) for row in rows]
    return await transition_many(conn, es, changes)


async def note(conn: asyncpg.Connection, es: EventStore, row: asyncpg.Record, event: Event,
               **changes: Any) -> asyncpg.Record:
    """Append an event that changes no status (a retry scheduled), with row changes."""
    await es.append(conn, stream_id(row["id"]), row["version"], [event])
    cols = ["version = version + 1", "updated_at = $2"]
    args: list[Any] = [row["id"], event.occurred_at]
    for name, value in changes.items():
        assert name in _SETTABLE, name
        args.append(value)
        cols.append(f"{name} = ${len(args)}{'::uuid' if name == 'claim_id' else ''}")
    new = await conn.fetchrow(f"UPDATE messages SET {', '.join(cols)} WHERE id = $1::uuid RETURNING {COLUMNS}",
                              *args)
    assert new is not None
    return new


async def update(conn: asyncpg.Connection, message_id: str, **changes: Any) -> None:
    """Change dispatch bookkeeping only (no event: nothing happened to the message)."""
    cols, args = [], [message_id]
    for name, value in changes.items():
        assert name in _SETTABLE, name
        args.append(value)
        cast = "::uuid" if name == "claim_id" else "::jsonb" if name == "pending_receipt" else ""
        cols.append(f"{name} = ${len(args)}{cast}")
    await conn.execute(f"UPDATE messages SET {', '.join(cols)} WHERE id = $1::uuid", *args)


async def _after_change(conn: asyncpg.Connection, es: EventStore, row: asyncpg.Record, event: Event,
                        status: str, reason: str | None) -> None:
    await conn.execute(
        "INSERT INTO message_timeline (message_id, seq, status, reason, at, event_id)"
        " VALUES ($1::uuid, $2, $3, $4, $5, $6::uuid)",
        row["id"], row["version"], status, reason, event.occurred_at, event.event_id,
    )
    url = row["status_callback_url"]
    if url:
        body = _enc.encode({"event_id": event.event_id, "type": "message.status",
                            "occurred_at": rfc3339(event.occurred_at), "message": view(row)})
        await conn.execute(
            "INSERT INTO status_callbacks (id, org_id, message_id, from_number, status, url, body, next_attempt_at,"
            " created_at) VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING",
            event.event_id, row["org_id"], row["id"], row["from_number"], status, url, body, event.occurred_at,
        )
        await conn.execute("SELECT pg_notify($1, '')", callback_channel(es.schema))


def callback_channel(schema: str) -> str:
    """NOTIFY channel: a status callback is waiting."""
    return f"{schema}_status_callbacks"


def due_channel(schema: str) -> str:
    """NOTIFY channel: a message is due for the dispatcher."""
    return f"{schema}_messages_due"


# -- views ------------------------------------------------------------------------------------------
def view(row: asyncpg.Record, *, queue_position: int | None = None,
         expected_send_at: datetime | None = None) -> MessageView:
    status = row["status"]
    if status == "scheduled" and expected_send_at is None:
        expected_send_at = row["next_attempt_at"]
    return MessageView(
        id=row["id"], from_=row["from_number"], to=row["to_number"], text=row["body"], status=status,
        created_at=rfc3339(row["created_at"]), segments=row["segments"], encoding=row["encoding"],
        price=format_money(row["price_micros"]), category=row["category"],
        send_at=rfc3339(row["send_at"]) if row["send_at"] else None, status_reason=row["status_reason"],
        queue_position=queue_position if status == "queued" else None,
        expected_send_at=rfc3339(expected_send_at) if expected_send_at and status in model.PENDING else None,
        updated_at=rfc3339(row["updated_at"]), error_code=row["error_code"], kind=row["kind"],
        status_callback_url=row["status_callback_url"], carrier_message_id=row["carrier_message_id"],
        expires_at=rfc3339(row["expires_at"]) if status in model.PENDING or status == "sending" else None,
    )


def detail(row: asyncpg.Record, timeline: list[asyncpg.Record], **kw: Any) -> MessageDetail:
    v = view(row, **kw)
    return MessageDetail(**{f: getattr(v, f) for f in v.__struct_fields__},
                         timeline=[TimelineEntry(status=t["status"], at=rfc3339(t["at"]), reason=t["reason"])
                                   for t in timeline])


async def timeline(conn: asyncpg.Connection | asyncpg.Pool, message_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT status, reason, at FROM message_timeline WHERE message_id = $1::uuid ORDER BY seq", message_id)
    return rows


@dataclass(frozen=True)
class Ahead:
    """What is queued ahead of a message on its number: how many messages, and their segments (each
    segment takes one token of the number's throughput)."""

    messages: int = 0
    segments: int = 0

    def plus(self, messages: int, segments: int) -> Ahead:
        return Ahead(self.messages + messages, self.segments + segments)


async def queue_position(conn: asyncpg.Connection | asyncpg.Pool, row: asyncpg.Record) -> Ahead:
    """Messages from the same number queued before this one (counted up to 100,000)."""
    return await queued_before(conn, row["from_number"], row["created_at"], row["id"])


async def queued_before(conn: asyncpg.Connection | asyncpg.Pool, from_number: str, created_at: datetime,
                        message_id: str) -> Ahead:
    """Messages from ``from_number`` queued before (created_at, id), and their segments (counted up to
    100,000 messages)."""
    r = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(segments), 0) AS s FROM (SELECT segments FROM messages"
        " WHERE from_number = $1 AND status = 'queued' AND (created_at, id) < ($2, $3::uuid) LIMIT 100000) ahead",
        from_number, created_at, message_id,
    )
    return Ahead(int(r["n"]), int(r["s"])) if r is not None else Ahead()


@dataclass(frozen=True)
class ListFilter:
    org_id: str
    limit: int
    statuses: list[str] | None = None
    from_number: str | None = None
    to_number: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    cursor_ts: datetime | None = None
    cursor_id: str | None = None


async def list_messages(pool: asyncpg.Pool, f: ListFilter) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated on (created_at, id): stable while new messages arrive."""
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {COLUMNS} FROM messages WHERE org_id = $1::uuid"
        " AND ($2::text[] IS NULL OR status = ANY($2))"
        " AND ($3::text IS NULL OR from_number = $3)"
        " AND ($4::text IS NULL OR to_number = $4)"
        " AND ($5::timestamptz IS NULL OR created_at >= $5)"
        " AND ($6::timestamptz IS NULL OR created_at < $6)"
        " AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $9",
        f.org_id, f.statuses, f.from_number, f.to_number, f.created_after, f.created_before, f.cursor_ts,
        f.cursor_id, f.limit + 1,
    )
    return rows


async def org_secret(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, new_secret: str) -> str:
    """The organization's fallback callback secret, created on first use."""
    await conn.execute("INSERT INTO org_callback_secrets (org_id, secret) VALUES ($1::uuid, $2)"
                       " ON CONFLICT DO NOTHING", org_id, new_secret)
    secret: str = await conn.fetchval("SELECT secret FROM org_callback_secrets WHERE org_id = $1::uuid", org_id)
    return secret
