"""The carrier service's SQL: submissions (read model of ``submission-<message_id>`` streams and the
attempt marker), the carrier's part ids with receipts that may come before them, inbound PDUs seen and
parts of concatenated inbound texts."""

from __future__ import annotations

from typing import Any

import asyncpg

from libs.store import Sql, Write, sql, table
from proto.base import Event


def stream(message_id: str) -> str:
    return f"submission-{message_id}"


async def submission(conn: Any, message_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT message_id::text AS message_id, org_id, adapter, state, carrier_message_id, parts, error_code, reason,"
        " receipt_status, extract(epoch FROM now() - updated_at) AS age_s FROM submissions WHERE message_id = $1::uuid",
        message_id)
    return row


async def mark_writing(conn: Any, message_id: str, org_id: str, adapter: str, parts: int, attempt: str,
                       take_over_after_s: float | None) -> bool:
    """The attempt marker, committed before the first PDU of the message leaves. Answers whether this
    attempt holds it: a marker of its own is refreshed; another attempt's is taken over only once it is
    older than ``take_over_after_s`` (that attempt is over: an upstream safe to ask twice), never when
    None, and while it stands this attempt must not write. Two attempts taking over one old marker: the
    first refreshes it, so the second finds it live."""
    held: bool | None = await conn.fetchval(
        "INSERT INTO submissions (message_id, org_id, adapter, state, parts, attempt)"
        " VALUES ($1::uuid, $2, $3, 'writing', $4, $5::uuid)"
        " ON CONFLICT (message_id) DO UPDATE SET adapter = EXCLUDED.adapter, parts = EXCLUDED.parts,"
        " attempt = EXCLUDED.attempt, updated_at = now()"
        " WHERE submissions.state = 'writing' AND (submissions.attempt = EXCLUDED.attempt"
        " OR submissions.updated_at < now() - make_interval(secs => $6::float8)) RETURNING true",
        message_id, org_id, adapter, parts, attempt, take_over_after_s)
    return bool(held)


async def refresh_writing(conn: Any, message_id: str, attempt: str) -> None:
    """The attempt holding the marker is still at work: its age starts again (another's is left alone)."""
    await conn.execute("UPDATE submissions SET updated_at = now() WHERE message_id = $1::uuid AND state = 'writing'"
                       " AND attempt = $2::uuid", message_id, attempt)


async def clear_writing(conn: Any, message_id: str, attempt: str) -> None:
    """Nothing left after all: this attempt's marker goes (never another's), the next attempt starts clean."""
    await conn.execute("DELETE FROM submissions WHERE message_id = $1::uuid AND state = 'writing'"
                       " AND attempt = $2::uuid", message_id, attempt)


def record(message_id: str, org_id: str, adapter: str, state: str, ev: Event, *,
           carrier_message_id: str | None = None, parts: int = 1, error_code: str | None = None,
           reason: str | None = None) -> Write:
    """An outcome of a submission: its event (after whatever its stream holds) and the read model, over a
    marker or an earlier outcome but never over a submission already recorded (no second MessageSubmitted
    from an attempt outlived by its marker, its upstream asked again by another): then nothing is written,
    and the write answers ``am_appended`` 0."""
    return Write().append(stream(message_id), None, [ev]).project(sql(
        "INSERT INTO submissions (message_id, org_id, adapter, state, carrier_message_id, parts, error_code, reason,"
        " submitted_at) VALUES (:id::uuid, :org, :adapter, :state, :cid, :parts, :code, :reason,"
        " CASE WHEN :state = 'submitted' THEN now() END)"
        " ON CONFLICT (message_id) DO UPDATE SET state = EXCLUDED.state, adapter = EXCLUDED.adapter,"
        " carrier_message_id = EXCLUDED.carrier_message_id, parts = EXCLUDED.parts, error_code = EXCLUDED.error_code,"
        " reason = EXCLUDED.reason, submitted_at = EXCLUDED.submitted_at, updated_at = now()"
        " WHERE submissions.state <> 'submitted' RETURNING 1",
        id=message_id, org=org_id, adapter=adapter, state=state, cid=carrier_message_id, parts=parts,
        code=error_code, reason=reason), "recorded").only_where(sql("EXISTS (SELECT 1 FROM recorded)"))


def link_parts(message_id: str, part_ids: list[str]) -> Sql:
    """Each part's carrier id points at the message; a receipt already waiting in a row is kept. A
    projection of ``record``'s write, done only when it recorded the submission."""
    return sql(
        "INSERT INTO carrier_ids (carrier_message_id, message_id, part) SELECT cid, mid, part FROM :rows"
        " WHERE EXISTS (SELECT 1 FROM recorded)"
        " ON CONFLICT (carrier_message_id) DO UPDATE SET message_id = EXCLUDED.message_id, part = EXCLUDED.part",
        rows=table("p", {"cid": "text", "mid": "uuid", "part": "int"},
                   [(cid, message_id, i) for i, cid in enumerate(part_ids, start=1)]))


async def parts_of(conn: asyncpg.Connection, message_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT carrier_message_id, part, stat, err, done_at FROM carrier_ids WHERE message_id = $1::uuid"
        " ORDER BY part", message_id)
    return rows


async def lock_submission(conn: asyncpg.Connection, message_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT message_id::text AS message_id, org_id, state, parts, receipt_status, adapter FROM submissions"
        " WHERE message_id = $1::uuid FOR UPDATE", message_id)
    return row


async def seen_many(conn: asyncpg.Connection, keys: list[str], window_s: float, again: list[str] | None = None
                    ) -> set[str]:
    """Record inbound PDUs' keys; answers those not seen within the window (the rest are repeats), and
    those in ``again`` (known to be new texts with the same words) whenever they were seen."""
    rows = await conn.fetch(
        "INSERT INTO mo_seen (key) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (key) DO UPDATE SET seen_at = now()"
        " WHERE mo_seen.seen_at < now() - make_interval(secs => $2) OR mo_seen.key = ANY($3::text[]) RETURNING key",
        keys, window_s, again or [])
    return {r["key"] for r in rows}


async def add_part(conn: asyncpg.Connection, group: str, seq: int, total: int, source: str, destination: str,
                   text: str, data_coding: int) -> list[asyncpg.Record]:
    """Keep one part of a concatenated text; answers every part of its group so far (locked)."""
    await conn.execute(
        "INSERT INTO mo_parts (group_key, seq, total, source, destination, text, data_coding)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (group_key, seq) DO NOTHING",
        group, seq, total, source, destination, text, data_coding)
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT seq, total, source, destination, text, data_coding, first_at FROM mo_parts WHERE group_key = $1"
        " ORDER BY seq FOR UPDATE", group)
    return rows


async def drop_group(conn: asyncpg.Connection, group: str) -> None:
    await conn.execute("DELETE FROM mo_parts WHERE group_key = $1", group)


async def stale_groups(conn: asyncpg.Connection, older_than_s: float) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT group_key FROM mo_parts WHERE first_at < now() - make_interval(secs => $1) LIMIT 100",
        older_than_s)
    return [r["group_key"] for r in rows]


async def forget_seen(conn: asyncpg.Connection, older_than_s: float) -> None:
    await conn.execute("DELETE FROM mo_seen WHERE seen_at < now() - make_interval(secs => $1)", older_than_s)


async def forget_unmatched(conn: asyncpg.Connection, older_than_s: float) -> None:
    """Receipts that never met their submission (one we did not record: unconfirmed, another system's)."""
    await conn.execute("DELETE FROM carrier_ids WHERE message_id IS NULL AND receipt_at < now() - make_interval(secs => $1)",
                       older_than_s)


async def counts(conn: asyncpg.Connection) -> tuple[dict[str, int], int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM submissions GROUP BY state")
    held = await conn.fetchval("SELECT count(*) FROM carrier_ids WHERE message_id IS NULL")
    return {r["state"]: int(r["n"]) for r in rows}, int(held or 0)


def record_receipt(message_id: str, ev: Event, status: str) -> Write:
    """The message's receipt (its submission row locked): its event and the status it sets."""
    return Write().append(stream(message_id), None, [ev]).project(sql(
        "UPDATE submissions SET receipt_status = :status, updated_at = now() WHERE message_id = :id::uuid",
        id=message_id, status=status))
