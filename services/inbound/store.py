"""inbound's SQL: messages and their arrival order, the durable webhook delivery queue and its attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from libs.store.eventstore import EventStore

MESSAGE_COLUMNS = ("id::text AS id, org_id, seq, carrier_message_id, phone_number_id, event_id::text AS event_id,"
                   " from_number, to_number, body, received_at")


def notify_channel(schema: str) -> str:
    return f"{schema}_deliveries"


# -- messages -------------------------------------------------------------------------------------------
async def head_seq(pool: asyncpg.Pool, org_id: str) -> int:
    return int(await pool.fetchval("SELECT last_seq FROM org_sequences WHERE org_id = $1", org_id) or 0)


async def store_message(conn: asyncpg.Connection, schema: str, *, message_id: str, org_id: str,
                        carrier_message_id: str, phone_number_id: str | None, event_id: str, from_: str, to: str,
                        body: str, received_at: datetime, delivery_id: str | None) -> int | None:
    """Insert the message with the organization's next arrival number and, with ``delivery_id``, queue its
    webhook delivery (and wake the workers) — one round trip. None when this carrier message id is already
    stored (a retried callback): the caller rolls back, so the sequence does not move.

    The org_sequences row lock lasts until commit, so seq order is commit order within an organization."""
    row = await conn.fetchrow(
        "WITH s AS (INSERT INTO org_sequences (org_id, last_seq) VALUES ($2, 1)"
        "  ON CONFLICT (org_id) DO UPDATE SET last_seq = org_sequences.last_seq + 1 RETURNING last_seq),"
        " m AS (INSERT INTO inbound_messages (id, org_id, seq, carrier_message_id, phone_number_id, event_id,"
        "  from_number, to_number, body, received_at)"
        "  SELECT $1, $2, s.last_seq, $3, $4, $5, $6, $7, $8, $9 FROM s"
        "  ON CONFLICT (carrier_message_id) DO NOTHING RETURNING id, seq),"
        " d AS (INSERT INTO webhook_deliveries (id, org_id, message_id, phone_number_id, state, queued_at,"
        "  next_attempt_at) SELECT $10, $2, m.id, $4, 'pending', now(), now() FROM m WHERE $10::uuid IS NOT NULL"
        "  RETURNING id)"
        " SELECT m.seq, (SELECT count(*) FROM (SELECT pg_notify($11, '') FROM d) n) AS woken FROM m",
        message_id, org_id, carrier_message_id, phone_number_id, event_id, from_, to, body, received_at,
        delivery_id, notify_channel(schema))
    return None if row is None else int(row["seq"])


class NewMessage(NamedTuple):
    message_id: str
    org_id: str
    carrier_message_id: str
    phone_number_id: str | None
    event_id: str
    from_: str
    to: str
    body: str
    received_at: datetime
    delivery_id: str | None


async def store_messages(conn: asyncpg.Connection, schema: str, batch: list[NewMessage]) -> dict[str, int]:
    """Insert a batch of messages, each with its organization's next arrival numbers, and queue their
    webhook deliveries; returns ``{message_id: seq}`` for those stored — a carrier message id already
    stored is skipped (a retried callback; its seq stays unused, a harmless gap). The caller appends the
    events of the stored ones in the same transaction.

    An organization's sequence row is locked from here to commit, so seq order is commit order within it;
    one batch takes it once for all its messages (sorted by org id, so two writers never deadlock)."""
    seen: set[str] = set()
    todo: list[NewMessage] = []
    for m in batch:
        if m.carrier_message_id not in seen:
            seen.add(m.carrier_message_id)
            todo.append(m)
    per_org: dict[str, list[NewMessage]] = {}
    for m in todo:
        per_org.setdefault(m.org_id, []).append(m)
    seqs: dict[str, int] = {}
    for org_id in sorted(per_org):
        msgs = per_org[org_id]
        last = int(await conn.fetchval(
            "INSERT INTO org_sequences (org_id, last_seq) VALUES ($1, $2)"
            " ON CONFLICT (org_id) DO UPDATE SET last_seq = org_sequences.last_seq + $2 RETURNING last_seq",
            org_id, len(msgs)))
        for i, m in enumerate(msgs):
            seqs[m.message_id] = last - len(msgs) + 1 + i
    pushes = [m for m in todo if m.delivery_id is not None]
    notify = notify_channel(schema) if pushes else ""
    rows = await conn.fetch(
        "WITH m AS (INSERT INTO inbound_messages (id, org_id, seq, carrier_message_id, phone_number_id, event_id,"
        "  from_number, to_number, body, received_at)"
        "  SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::uuid[],"
        "  $7::text[], $8::text[], $9::text[], $10::timestamptz[])"
        "  ON CONFLICT (carrier_message_id) DO NOTHING RETURNING id),"
        # the webhook deliveries of the messages stored
        " d AS (INSERT INTO webhook_deliveries (id, org_id, message_id, phone_number_id, state, queued_at,"
        "  next_attempt_at) SELECT u.d, u.o, u.m, u.p, 'pending', now(), now()"
        "  FROM unnest($11::uuid[], $12::text[], $13::uuid[], $14::text[]) AS u(d, o, m, p)"
        "  JOIN m ON m.id = u.m RETURNING 1)"
        " SELECT m.id::text AS id, (SELECT count(*) FROM d) AS queued,"
        f" {EventStore.notify_sql(15)} AS woken FROM m",
        [m.message_id for m in todo], [m.org_id for m in todo], [seqs[m.message_id] for m in todo],
        [m.carrier_message_id for m in todo], [m.phone_number_id for m in todo], [m.event_id for m in todo],
        [m.from_ for m in todo], [m.to for m in todo], [m.body for m in todo], [m.received_at for m in todo],
        [m.delivery_id for m in pushes], [m.org_id for m in pushes], [m.message_id for m in pushes],
        [m.phone_number_id for m in pushes], notify)
    return {r["id"]: seqs[r["id"]] for r in rows}


async def message(pool: asyncpg.Pool | asyncpg.Connection, org_id: str, message_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM inbound_messages WHERE id = $1::uuid AND org_id = $2", message_id, org_id)
    return row


async def list_messages(pool: asyncpg.Pool, org_id: str, *, to: str | None, from_: str | None,
                        since: datetime | None, before_seq: int | None, after_seq: int | None,
                        limit: int) -> list[asyncpg.Record]:
    """Newest first below ``before_seq``; oldest first above ``after_seq`` when it is given."""
    ascending = after_seq is not None
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM inbound_messages WHERE org_id = $1"
        " AND ($2::text IS NULL OR to_number = $2) AND ($3::text IS NULL OR from_number = $3)"
        " AND ($4::timestamptz IS NULL OR received_at >= $4)"
        " AND ($5::bigint IS NULL OR seq < $5) AND ($6::bigint IS NULL OR seq > $6)"
        f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT $7",
        org_id, to, from_, since, before_seq, after_seq, limit)
    return rows


# -- deliveries -----------------------------------------------------------------------------------------
async def queue_delivery(conn: asyncpg.Connection, schema: str, *, delivery_id: str, org_id: str,
                         message_id: str, phone_number_id: str) -> None:
    await conn.execute(
        "INSERT INTO webhook_deliveries (id, org_id, message_id, phone_number_id, state, queued_at,"
        " next_attempt_at) VALUES ($1, $2, $3, $4, 'pending', now(), now())",
        delivery_id, org_id, message_id, phone_number_id)
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


async def delivery_for_message(conn: asyncpg.Pool | asyncpg.Connection, message_id: str,
                               lock: bool = False) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id::text AS id, state, attempts, next_attempt_at, last_error, generation"
        " FROM webhook_deliveries WHERE message_id = $1::uuid" + (" FOR UPDATE" if lock else ""), message_id)
    return row


async def requeue(conn: asyncpg.Connection, schema: str, delivery_id: str) -> None:
    """A redelivery: due now, a fresh retry window, and a new generation so an attempt still in flight from
    before cannot close it."""
    await conn.execute(
        "UPDATE webhook_deliveries SET state = 'pending', generation = generation + 1, retry_count = 0,"
        " queued_at = now(), next_attempt_at = now(), completed_at = NULL WHERE id = $1::uuid", delivery_id)
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


async def attempts(pool: asyncpg.Pool | asyncpg.Connection, delivery_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT attempt, attempted_at, succeeded, status_code, latency_ms, error, url FROM webhook_attempts"
        " WHERE delivery_id = $1::uuid ORDER BY id LIMIT 1000", delivery_id)
    return rows


async def claim_due(pool: asyncpg.Pool | asyncpg.Connection, limit: int, numbers: list[str], frees: list[int], default_free: int,
                    lease_s: float) -> list[asyncpg.Record]:
    """Lease up to ``limit`` due deliveries, oldest first, at most ``frees[i]`` of ``numbers[i]`` and
    ``default_free`` of any other number, skipping rows another worker holds. Their next_attempt_at moves past
    the lease, so a crash makes them due again."""
    saturated = [n for n, f in zip(numbers, frees, strict=True) if f <= 0]
    rows: list[asyncpg.Record] = await pool.fetch(
        "WITH d AS (SELECT id, phone_number_id, next_attempt_at FROM webhook_deliveries"
        "  WHERE state = 'pending' AND next_attempt_at <= now() AND NOT (phone_number_id = ANY($4::text[]))"
        "  ORDER BY next_attempt_at LIMIT $5),"
        " ranked AS (SELECT d.id, row_number() OVER (PARTITION BY d.phone_number_id ORDER BY d.next_attempt_at)"
        "  AS rn, coalesce(l.free, $6) AS free FROM d"
        "  LEFT JOIN unnest($2::text[], $3::int[]) AS l(phone_number_id, free) USING (phone_number_id)),"
        " due AS (SELECT w.id, w.next_attempt_at FROM webhook_deliveries w JOIN ranked r ON r.id = w.id"
        "  WHERE r.rn <= r.free AND w.state = 'pending' AND w.next_attempt_at <= now()"
        "  ORDER BY w.next_attempt_at LIMIT $1 FOR UPDATE OF w SKIP LOCKED)"
        " UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $7),"
        "  attempts = d.attempts + 1"
        " FROM due, inbound_messages m WHERE d.id = due.id AND m.id = d.message_id"
        " RETURNING d.id::text AS id, d.org_id, d.message_id::text AS message_id, d.phone_number_id, d.attempts,"
        "  d.retry_count, d.generation, due.next_attempt_at AS due_at, m.event_id::text AS event_id,"
        "  m.from_number, m.to_number, m.body, m.received_at",
        limit, numbers, frees, saturated, max(64, 4 * limit), default_free, lease_s)
    return rows


async def unclaim(pool: asyncpg.Pool | asyncpg.Connection, rows: list[tuple[str, datetime]]) -> None:
    """Give leased rows back as they were (a race left no free slot for them)."""
    await pool.executemany(
        "UPDATE webhook_deliveries SET next_attempt_at = $2, attempts = attempts - 1 WHERE id = $1::uuid", rows)


def stream_id(delivery_id: str) -> str:
    return f"webhook_delivery-{delivery_id}"


async def lock_for_completion(conn: asyncpg.Connection, delivery_id: str) -> asyncpg.Record:
    """Lock the delivery and read what an outcome is decided on, with its event stream's version (every
    append to that stream happens under this row lock, so the version cannot move meanwhile)."""
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT state, generation, retry_count, extract(epoch FROM now() - queued_at)::float8 AS elapsed_s,"
        " (SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $2) AS version"
        " FROM webhook_deliveries WHERE id = $1::uuid FOR UPDATE", delivery_id, stream_id(delivery_id))
    return row


class Success(NamedTuple):
    """A 2xx attempt to record: the delivery, its generation when claimed, the attempt, and the store's row
    for its WebhookDeliverySucceeded event (the version is taken under the row lock)."""

    delivery_id: str
    generation: int
    attempt: Attempt
    event: tuple[Any, ...]


async def complete_successes(pool: asyncpg.Pool | asyncpg.Connection, items: list[Success],
                             channel: str) -> set[str]:
    """2xx attempts, in one statement and so one transaction: record every attempt and, for each delivery
    still pending in its generation, mark it succeeded and append its event. Answers the deliveries that
    completed; the others were restarted by a redelivery meanwhile and their attempt is history only."""
    cols: list[list[Any]] = [[] for _ in range(17)]
    for x in items:
        for col, value in zip(cols, [x.delivery_id, x.generation, *x.attempt, stream_id(x.delivery_id),
                                     *x.event[2:]], strict=True):
            col.append(value)
    done: list[str] = await pool.fetchval(
        "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::timestamptz[],"
        "  $6::bool[], $7::int[], $8::int[], $9::text[], $10::text[], $11::text[], $12::uuid[], $13::text[],"
        "  $14::text[], $15::text[], $16::text[], $17::text[]) AS v(id, generation, org_id, attempt, attempted_at, succeeded,"
        "  status_code, latency_ms, error, url, stream, event_id, event_type, subject, event_org, data, headers)),"
        # one row per delivery for the state change and its event (two attempts of one delivery can meet in
        # a batch when a lease ran out); every attempt is recorded
        " v1 AS (SELECT DISTINCT ON (id) * FROM v ORDER BY id),"
        " cur AS (SELECT d.id, (SELECT coalesce(max(e.version), 0) FROM events e WHERE e.stream_id = v1.stream)"
        "  AS version FROM webhook_deliveries d JOIN v1 ON d.id = v1.id"
        "  WHERE d.state = 'pending' AND d.generation = v1.generation ORDER BY d.id FOR UPDATE OF d),"
        " a AS (INSERT INTO webhook_attempts (delivery_id, org_id, attempt, attempted_at, succeeded, status_code,"
        "  latency_ms, error, url) SELECT id, org_id, attempt, attempted_at, succeeded, status_code, latency_ms,"
        "  error, url FROM v),"
        " upd AS (UPDATE webhook_deliveries d SET state = 'succeeded', completed_at = now(), next_attempt_at = NULL,"
        "  last_status_code = v1.status_code, last_error = NULL FROM v1"
        "  WHERE d.id = v1.id AND d.id IN (SELECT id FROM cur) RETURNING d.id),"
        " ev AS (INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data, headers)"
        "  SELECT v1.stream, cur.version + 1, v1.event_id, v1.event_type, v1.subject, v1.event_org, v1.data::jsonb,"
        "  v1.headers::jsonb FROM cur JOIN v1 ON v1.id = cur.id RETURNING 1)"
        f" SELECT array(SELECT id::text FROM upd) AS done, (SELECT {EventStore.notify_sql(18)}) AS woken",
        *cols, channel)
    return set(done)


class Attempt(NamedTuple):
    org_id: str
    attempt: int
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    error: str | None
    url: str


async def update_delivery(conn: asyncpg.Connection, delivery_id: str, attempt: Attempt | None = None,
                          **fields: Any) -> None:
    """Set columns (``next_in_s`` becomes next_attempt_at = now() + that many seconds) and record the
    attempt, in one statement."""
    args: list[Any] = [delivery_id]
    head = ""
    if attempt is not None:
        head = ("WITH a AS (INSERT INTO webhook_attempts (delivery_id, org_id, attempt, attempted_at, succeeded,"
                " status_code, latency_ms, error, url) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)) ")
        args += list(attempt)
    sets: list[str] = []
    next_in = fields.pop("next_in_s", None)
    for name, value in fields.items():
        args.append(value)
        sets.append(f"{name} = ${len(args)}")
    if next_in is not None:
        args.append(float(next_in))
        sets.append(f"next_attempt_at = now() + make_interval(secs => ${len(args)})")
    if not sets:
        sets.append("id = id")
    await conn.execute(f"{head}UPDATE webhook_deliveries SET {', '.join(sets)} WHERE id = $1::uuid", *args)
