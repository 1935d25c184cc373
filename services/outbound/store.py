"""outbound's reads: the ``messages`` read model as Message states (``state``), locks, the timeline,
queue positions, lists, and the API's views of a message. Every write goes through projection.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from libs.store import Sql, given, sql, where
from proto.api import format_money
from proto.base import rfc3339, times_upcaster
from proto.commands.outbound import MessageDetail, MessageView, TimelineEntry
from services.outbound import model
from services.outbound.rules import Receipt

COLUMNS = (
    "id::text AS id, org_id::text AS org_id, version, from_number, to_number, body, status, status_reason,"
    " error_code, category, kind, segments, encoding, price_micros, phone_number_id, campaign_id,"
    " throughput_mpm, status_callback_url, send_at, validity_seconds, expires_at, next_attempt_at,"
    " claimed_until, claim_id::text AS claim_id, attempts, carrier_message_id, pending_receipt::text AS"
    " pending_receipt, created_at, updated_at, deferred_by"
)
_receipt = msgspec.json.Decoder(Receipt)
_old_receipt_times = times_upcaster("occurred_at")


def held_receipt(raw: str | None) -> Receipt | None:
    """The receipt held on a message. One held before times were datetimes carries its time as the
    carrier's text ("" or not RFC 3339 at all): it is brought to the current shape, as stored events are."""
    if not raw:
        return None
    try:
        return _receipt.decode(raw)
    except msgspec.ValidationError:
        old = msgspec.json.decode(raw)
        _old_receipt_times(old)
        return _receipt.decode(msgspec.json.encode(old))


def state(row: asyncpg.Record) -> model.Message:
    """The message a row of ``messages`` (selected with COLUMNS) holds."""
    raw = row["pending_receipt"]
    return model.Message(
        id=row["id"], org_id=row["org_id"], version=row["version"], status=row["status"],
        status_reason=row["status_reason"], error_code=row["error_code"], from_number=row["from_number"],
        to_number=row["to_number"], body=row["body"], category=row["category"], kind=row["kind"],
        segments=row["segments"], encoding=row["encoding"], price_micros=row["price_micros"],
        phone_number_id=row["phone_number_id"], campaign_id=row["campaign_id"],
        throughput_mpm=row["throughput_mpm"], status_callback_url=row["status_callback_url"],
        send_at=row["send_at"], validity_seconds=row["validity_seconds"], expires_at=row["expires_at"],
        next_attempt_at=row["next_attempt_at"], claimed_until=row["claimed_until"], claim_id=row["claim_id"],
        attempts=row["attempts"], carrier_message_id=row["carrier_message_id"],
        held=held_receipt(raw), created_at=row["created_at"], updated_at=row["updated_at"],
        deferred_by=row["deferred_by"])


def states(rows: list[asyncpg.Record]) -> list[model.Message]:
    return [state(r) for r in rows]


def stream_id(message_id: str) -> str:
    return f"message-{message_id}"


async def lock(conn: asyncpg.Connection, message_id: str) -> model.Message | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM messages WHERE id = $1::uuid FOR UPDATE", message_id)
    return state(row) if row is not None else None


async def fetch(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, message_id: str,
                for_update: bool = False) -> model.Message | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM messages WHERE id = $1::uuid AND org_id = $2::uuid"
                              f"{' FOR UPDATE' if for_update else ''}", message_id, org_id)
    return state(row) if row is not None else None


async def find(conn: asyncpg.Connection | asyncpg.Pool, message_id: str) -> model.Message | None:
    """Any organization's message of this id (a taken message id is told apart by its org_id)."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM messages WHERE id = $1::uuid", message_id)
    return state(row) if row is not None else None


async def lock_where(conn: asyncpg.Connection, where: str, *args: Any) -> list[model.Message]:
    """Lock the messages ``where`` selects (always in id order, so batches sharing messages cannot
    deadlock), e.g. an opt-out's contact's pending messages."""
    return states(await conn.fetch(f"SELECT {COLUMNS} FROM messages WHERE {where} ORDER BY id FOR UPDATE", *args))


async def lock_many(conn: asyncpg.Connection, message_ids: list[str]) -> dict[str, model.Message]:
    """Lock several messages, always in id order (so two batches sharing messages cannot deadlock)."""
    return {m.id: m for m in await lock_where(conn, "id = ANY($1::uuid[])", message_ids)}


def callback_channel(schema: str) -> str:
    """NOTIFY channel: a status callback is waiting."""
    return f"{schema}_status_callbacks"


def due_channel(schema: str) -> str:
    """NOTIFY channel: a message is due for the dispatcher."""
    return f"{schema}_messages_due"


# -- views ------------------------------------------------------------------------------------------
def view(m: model.Message, *, queue_position: int | None = None,
         expected_send_at: datetime | None = None) -> MessageView:
    status = m.status
    if status == "scheduled" and expected_send_at is None:
        expected_send_at = m.next_attempt_at
    assert m.created_at is not None and m.updated_at is not None
    return MessageView(
        id=m.id, from_=m.from_number, to=m.to_number, text=m.body, status=status,
        created_at=rfc3339(m.created_at), segments=m.segments, encoding=m.encoding,
        price=format_money(m.price_micros), category=m.category,
        send_at=rfc3339(m.send_at) if m.send_at else None, status_reason=m.status_reason,
        queue_position=queue_position if status == "queued" else None,
        expected_send_at=rfc3339(expected_send_at) if expected_send_at and status in model.PENDING else None,
        updated_at=rfc3339(m.updated_at), error_code=m.error_code, kind=m.kind,
        status_callback_url=m.status_callback_url, carrier_message_id=m.carrier_message_id,
        expires_at=rfc3339(m.expires_at) if m.expires_at and (status in model.PENDING or status == "sending")
        else None,
    )


def detail(m: model.Message, timeline: list[asyncpg.Record], **kw: Any) -> MessageDetail:
    v = view(m, **kw)
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


async def queue_position(conn: asyncpg.Connection | asyncpg.Pool, m: model.Message) -> Ahead:
    """Messages from the same number queued before this one (counted up to 100,000)."""
    assert m.created_at is not None
    return await queued_before(conn, m.from_number, m.created_at, m.id)


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


def list_query(f: ListFilter) -> Sql:
    """Newest first, keyset-paginated on (created_at, id): stable while new messages arrive. Only the
    filters asked for are in the statement, so each combination is planned with the index it matches."""
    cond = where(sql("org_id = :org::uuid", org=f.org_id),
                 given("status = ANY(:statuses::text[])", statuses=f.statuses),
                 given("from_number = :v", v=f.from_number), given("to_number = :v", v=f.to_number),
                 given("created_at >= :v", v=f.created_after), given("created_at < :v", v=f.created_before),
                 given("(created_at, id) < (:ts, :id::uuid)", ts=f.cursor_ts, id=f.cursor_id))
    # (messages.id: the uuid, the index's order and the cursor's, not the text column of the same name)
    return sql(f"SELECT {COLUMNS} FROM messages WHERE :cond ORDER BY created_at DESC, messages.id DESC LIMIT :limit",
               cond=cond, limit=f.limit + 1)


async def list_messages(pool: asyncpg.Pool, f: ListFilter) -> list[model.Message]:
    text, args = list_query(f).compile()
    return states(await pool.fetch(text, *args))


async def org_secret(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, new_secret: str) -> str:
    """The organization's fallback callback secret, created on first use."""
    await conn.execute("INSERT INTO org_callback_secrets (org_id, secret) VALUES ($1::uuid, $2)"
                       " ON CONFLICT DO NOTHING", org_id, new_secret)
    secret: str = await conn.fetchval("SELECT secret FROM org_callback_secrets WHERE org_id = $1::uuid", org_id)
    return secret
