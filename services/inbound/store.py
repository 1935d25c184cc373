"""inbound's SQL: messages and their arrival order, the durable webhook delivery queue and its attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from libs.store import Sql, Write, given, notify, sql, table, where
from libs.store.eventstore import ConcurrencyError, EventStore
from proto.base import Event

MESSAGE_COLUMNS = ("id::text AS id, org_id, seq, carrier_message_id, phone_number_id, event_id::text AS event_id,"
                   " from_number, to_number, body, received_at")


def notify_channel(schema: str) -> str:
    return f"{schema}_deliveries"


# -- messages -------------------------------------------------------------------------------------------
async def head_seq(pool: asyncpg.Pool, org_id: str) -> int:
    return int(await pool.fetchval("SELECT last_seq FROM org_sequences WHERE org_id = $1", org_id) or 0)


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


async def store_messages(conn: asyncpg.Connection, es: EventStore,
                         batch: list[tuple[NewMessage, str, Event]]) -> dict[str, int]:
    """Insert a batch of messages, each with its organization's next arrival numbers, append the event
    of each (to its stream) and queue their webhook deliveries; returns ``{message_id: seq}`` for those
    stored — a carrier message id already stored is skipped with its event (a retried callback; its seq
    stays unused, a harmless gap). In the caller's transaction.

    An organization's sequence row is locked from here to commit, so seq order is commit order within it;
    one batch takes it once for all its messages (sorted by org id, so two writers never deadlock)."""
    seen: set[str] = set()
    todo: list[tuple[NewMessage, str, Event]] = []
    for item in batch:
        if item[0].carrier_message_id not in seen:
            seen.add(item[0].carrier_message_id)
            todo.append(item)
    per_org: dict[str, list[NewMessage]] = {}
    for m, _, _ in todo:
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
    pushes = [m for m, _, _ in todo if m.delivery_id is not None]
    w = Write().project(sql(
        "INSERT INTO inbound_messages (id, org_id, seq, carrier_message_id, phone_number_id, event_id, from_number,"
        " to_number, body, received_at) SELECT id, org_id, seq, cid, number_id, event_id, from_, to_, body, at"
        " FROM :rows ON CONFLICT (carrier_message_id) DO NOTHING RETURNING id, event_id",
        rows=table("v", _MESSAGE, [(m.message_id, m.org_id, seqs[m.message_id], m.carrier_message_id,
                                    m.phone_number_id, m.event_id, m.from_, m.to, m.body, m.received_at)
                                   for m, _, _ in todo])), name="m")
    # the webhook deliveries of the messages stored
    w.project(sql(
        "INSERT INTO webhook_deliveries (id, org_id, message_id, phone_number_id, state, queued_at, next_attempt_at)"
        " SELECT u.d, u.o, u.m, u.p, 'pending', now(), now() FROM :rows JOIN m ON m.id = u.m",
        rows=table("u", {"d": "uuid", "o": "text", "m": "uuid", "p": "text"},
                   [(m.delivery_id, m.org_id, m.message_id, m.phone_number_id) for m in pushes])))
    for _, stream, ev in todo:
        w.append(stream, 0, [ev])
    w.only_where(sql("e.event_id IN (SELECT event_id FROM m)"))
    # no NOTIFY for the deliveries: this replica's worker is handed their ids after the commit
    # (``DeliveryWorker.offer``), and claims them by id instead of scanning for due rows
    w.returning(sql("SELECT m.id::text AS id FROM m"))
    rows = await es.write(w, conn)
    return {r["id"]: seqs[r["id"]] for r in rows}


_MESSAGE = {"id": "uuid", "org_id": "text", "seq": "bigint", "cid": "text", "number_id": "text", "event_id": "uuid",
            "from_": "text", "to_": "text", "body": "text", "at": "timestamptz"}


async def message(pool: asyncpg.Pool | asyncpg.Connection, org_id: str, message_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM inbound_messages WHERE id = $1::uuid AND org_id = $2", message_id, org_id)
    return row


async def list_messages(pool: asyncpg.Pool, org_id: str, *, to: str | None, from_: str | None,
                        since: datetime | None, before_seq: int | None, after_seq: int | None,
                        limit: int) -> list[asyncpg.Record]:
    """Newest first below ``before_seq``; oldest first above ``after_seq`` when it is given."""
    ascending = after_seq is not None
    # only the filters asked for: each combination planned with the index it matches (to, from)
    cond = where(sql("org_id = :org", org=org_id), given("to_number = :v", v=to), given("from_number = :v", v=from_),
                 given("received_at >= :v", v=since), given("seq < :v::bigint", v=before_seq),
                 given("seq > :v::bigint", v=after_seq))
    text, args = sql(f"SELECT {MESSAGE_COLUMNS} FROM inbound_messages WHERE :cond"
                     f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT :limit", cond=cond, limit=limit).compile()
    rows: list[asyncpg.Record] = await pool.fetch(text, *args)
    return rows


# -- deliveries -----------------------------------------------------------------------------------------
def queue_delivery(*, delivery_id: str, org_id: str, message_id: str, phone_number_id: str) -> Sql:
    """A new delivery of a message, due now (with ``wake_workers`` in the same write); it answers its id,
    or no row when a concurrent request queued the message's delivery first (that one is then shared:
    the write appends its events only ``WHERE EXISTS`` a row)."""
    return sql("INSERT INTO webhook_deliveries (id, org_id, message_id, phone_number_id, state, queued_at,"
               " next_attempt_at) VALUES (:id, :org, :message_id, :number_id, 'pending', now(), now())"
               " ON CONFLICT (message_id) DO NOTHING RETURNING id",
               id=delivery_id, org=org_id, message_id=message_id, number_id=phone_number_id)


def wake_workers(schema: str) -> Sql:
    """A write's answer that wakes the delivery workers (on every replica) at its commit."""
    return sql("SELECT :woken AS woken", woken=notify(notify_channel(schema)))


async def delivery_for_message(conn: asyncpg.Pool | asyncpg.Connection, message_id: str,
                               lock: bool = False) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id::text AS id, state, attempts, next_attempt_at, last_error, generation"
        " FROM webhook_deliveries WHERE message_id = $1::uuid" + (" FOR UPDATE" if lock else ""), message_id)
    return row


def requeue(delivery_id: str) -> Sql:
    """A redelivery: due now, a fresh retry window, and a new generation so an attempt still in flight from
    before cannot close it (with ``wake_workers`` in the same write)."""
    return sql("UPDATE webhook_deliveries SET state = 'pending', generation = generation + 1, retry_count = 0,"
               " queued_at = now(), next_attempt_at = now(), completed_at = NULL WHERE id = :id::uuid", id=delivery_id)


async def attempts(pool: asyncpg.Pool | asyncpg.Connection, delivery_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT attempt, attempted_at, succeeded, status_code, latency_ms, error, url FROM webhook_attempts"
        " WHERE delivery_id = $1::uuid ORDER BY id LIMIT 1000", delivery_id)
    return rows


CLAIM_DUE = (
    "WITH d AS (SELECT id, phone_number_id, next_attempt_at FROM webhook_deliveries"
    "  WHERE state = 'pending' AND next_attempt_at <= now() AND NOT (phone_number_id = ANY($4::text[]))"
    "  AND ($8::uuid[] IS NULL OR id = ANY($8::uuid[]))"
    "  ORDER BY next_attempt_at LIMIT $5),"
    " ranked AS (SELECT d.id, row_number() OVER (PARTITION BY d.phone_number_id ORDER BY d.next_attempt_at)"
    "  AS rn, coalesce(l.free, $6) AS free FROM d"
    "  LEFT JOIN unnest($2::text[], $3::int[]) AS l(phone_number_id, free) USING (phone_number_id)),"
    # the ranked rows' ids as one array (an init plan, run once), not a join to the ranking: with a stale row
    # count the planner made the ranking the inner side of a nested loop, ranked again for every due row
    " due AS (SELECT w.id, w.next_attempt_at FROM webhook_deliveries w"
    "  WHERE w.id = ANY(ARRAY(SELECT r.id FROM ranked r WHERE r.rn <= r.free))"
    "  AND w.state = 'pending' AND w.next_attempt_at <= now()"
    "  ORDER BY w.next_attempt_at LIMIT $1 FOR UPDATE OF w SKIP LOCKED)"
    " UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $7),"
    "  attempts = d.attempts + 1"
    " FROM due, inbound_messages m WHERE d.id = due.id AND m.id = d.message_id"
    " RETURNING d.id::text AS id, d.org_id, d.message_id::text AS message_id, d.phone_number_id, d.attempts,"
    "  d.retry_count, d.generation, due.next_attempt_at AS due_at, m.event_id::text AS event_id,"
    "  m.from_number, m.to_number, m.body, m.received_at"
)


async def claim_due(pool: asyncpg.Pool | asyncpg.Connection, limit: int, numbers: list[str], frees: list[int], default_free: int,
                    lease_s: float, ids: list[str] | None = None) -> list[asyncpg.Record]:
    """Lease up to ``limit`` due deliveries, oldest first, at most ``frees[i]`` of ``numbers[i]`` and
    ``default_free`` of any other number, skipping rows another worker holds — of all, or only those of
    ``ids`` (found by primary key: no walk of the due index). Their next_attempt_at moves past the lease,
    so a crash makes them due again. (Planned for its parameters, on the worker's connection: with
    ``ids`` NULL the id test folds away.)"""
    saturated = [n for n, f in zip(numbers, frees, strict=True) if f <= 0]
    rows: list[asyncpg.Record] = await pool.fetch(
        CLAIM_DUE, limit, numbers, frees, saturated, max(64, 4 * limit), default_free, lease_s, ids)
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
    """A 2xx attempt to record: the delivery, its generation when claimed, the attempt, and its
    WebhookDeliverySucceeded event."""

    delivery_id: str
    generation: int
    attempt: Attempt
    event: Event


def success_write(items: list[Success]) -> Write:
    """``complete_successes``'s write."""
    firsts: dict[str, Success] = {}
    for x in items:
        firsts.setdefault(x.delivery_id, x)
    ids = list(firsts)
    w = Write().project(sql("SELECT * FROM :rows", rows=table("v", _SUCCESS, (
        (x.delivery_id, x.generation, *x.attempt) for x in items))), name="v")
    # one row per delivery for the state change and its event (two attempts of one delivery can meet in
    # a batch when a lease ran out); every attempt is recorded. The deliveries are found by their ids (an
    # index condition: joined to the batch alone, a stale row count had the due index walked end to end)
    w.project(sql("SELECT DISTINCT ON (id) * FROM v ORDER BY id"), name="v1")
    w.project(sql("SELECT d.id FROM webhook_deliveries d JOIN v1 ON d.id = v1.id WHERE d.id = ANY(:ids::uuid[])"
                  " AND d.state = 'pending' AND d.generation = v1.generation ORDER BY d.id FOR UPDATE OF d", ids=ids),
              name="cur")
    w.project(sql("INSERT INTO webhook_attempts (delivery_id, org_id, attempt, attempted_at, succeeded, status_code,"
                  " latency_ms, error, url) SELECT id, org_id, attempt, attempted_at, succeeded, status_code,"
                  " latency_ms, error, url FROM v"))
    w.project(sql("UPDATE webhook_deliveries d SET state = 'succeeded', completed_at = now(), next_attempt_at = NULL,"
                  " last_status_code = v1.status_code, last_error = NULL FROM v1"
                  " WHERE d.id = ANY(:ids::uuid[]) AND d.id = v1.id AND d.id IN (SELECT id FROM cur) RETURNING d.id",
                  ids=ids), name="upd")
    for x in firsts.values():
        w.append(stream_id(x.delivery_id), None, [x.event])
    w.only_where(sql("e.stream_id IN (SELECT :prefix || id::text FROM cur)", prefix=stream_id("")))
    return w.returning(sql("SELECT array(SELECT id::text FROM upd) AS done"))


async def complete_successes(es: EventStore, items: list[Success]) -> set[str]:
    """2xx attempts, in one statement and so one transaction: record every attempt and, for each delivery
    still pending in its generation, mark it succeeded and append its event (at its stream's head: under
    the delivery's row lock, as every append to it). Answers the deliveries that completed; the others were
    restarted by a redelivery meanwhile and their attempt is history only."""
    w = success_write(items)
    for tries_left in (2, 1, 0):
        try:
            rows = await es.write(w)
            break
        except ConcurrencyError:
            # the stream's head is read on the statement's snapshot, taken before the row lock: an attempt's
            # failure committed while we waited for that lock took the version. Nothing of the write was
            # kept; a new statement sees the failure, locks, and appends after it
            if not tries_left:
                raise
    return set(rows[0]["done"])


_SUCCESS = {"id": "uuid", "generation": "int", "org_id": "text", "attempt": "int", "attempted_at": "timestamptz",
            "succeeded": "bool", "status_code": "int", "latency_ms": "int", "error": "text", "url": "text"}


class Attempt(NamedTuple):
    org_id: str
    attempt: int
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    error: str | None
    url: str


def attempt_row(delivery_id: str, attempt: Attempt) -> Sql:
    """An attempt's record, as a projection."""
    return sql("INSERT INTO webhook_attempts (delivery_id, org_id, attempt, attempted_at, succeeded, status_code,"
               " latency_ms, error, url) VALUES (:id::uuid, :org, :attempt, :at, :ok, :status, :latency, :error, :url)",
               id=delivery_id, org=attempt.org_id, attempt=attempt.attempt, at=attempt.attempted_at,
               ok=attempt.succeeded, status=attempt.status_code, latency=attempt.latency_ms, error=attempt.error,
               url=attempt.url)


def delivery_change(delivery_id: str, **fields: Any) -> Sql:
    """Set columns (``next_in_s`` becomes next_attempt_at = now() + that many seconds), as a projection."""
    next_in = fields.pop("next_in_s", None)
    sets = [f"{name} = :{name}" for name in fields]
    if next_in is not None:
        fields["next_in_s"] = float(next_in)
        sets.append("next_attempt_at = now() + make_interval(secs => :next_in_s)")
    return sql(f"UPDATE webhook_deliveries SET {', '.join(sets or ['id = id'])} WHERE id = :delivery_id::uuid",
               delivery_id=delivery_id, **fields)


async def update_delivery(conn: asyncpg.Connection, delivery_id: str, **fields: Any) -> None:
    """``delivery_change`` on its own (no event: nothing happened to the delivery, e.g. a claim given back)."""
    text, args = delivery_change(delivery_id, **fields).compile()
    await conn.execute(text, *args)
