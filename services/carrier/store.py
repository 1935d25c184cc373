"""The carrier service's SQL: submissions (read model of ``submission-<message_id>`` streams and the
attempt marker), the carrier's part ids with receipts that may come before them, inbound PDUs seen and
parts of concatenated inbound texts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from libs.store import Write, sql, table
from proto.base import Event


def stream(message_id: str) -> str:
    return f"submission-{message_id}"


_SUBMISSION = ("message_id::text AS message_id, org_id, adapter, state, carrier_message_id, parts, error_code, reason,"
               " receipt_status, extract(epoch FROM now() - updated_at) AS age_s")


async def submissions(conn: Any, message_ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    """The submissions of these messages (those there are), by message id: one statement."""
    rows = await conn.fetch(f"SELECT {_SUBMISSION} FROM submissions WHERE message_id = ANY($1::uuid[])",
                            list(message_ids))
    return {r["message_id"]: r for r in rows}


@dataclass(frozen=True, slots=True)
class Marker:
    """An attempt's marker for a message, to be committed before the first PDU of the message leaves."""

    message_id: str
    org_id: str
    adapter: str
    parts: int
    attempt: str


async def mark_writing(conn: Any, markers: Sequence[Marker], take_over_after_s: float | None) -> set[tuple[str, str]]:
    """The attempts' markers, one statement (a message at most once). Answers the (message id, attempt)
    pairs whose attempt holds its marker: one of its own is refreshed; another attempt's is taken over only
    once it is older than ``take_over_after_s`` (that attempt is over: an upstream safe to ask twice), never
    when None, and while it stands this attempt must not write. Two attempts taking over one old marker:
    the first refreshes it, so the second finds it live."""
    rows = await conn.fetch(
        "INSERT INTO submissions (message_id, org_id, adapter, state, parts, attempt)"
        " SELECT m, o, a, 'writing', p, t FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::uuid[])"
        " AS v(m, o, a, p, t) ORDER BY m"
        " ON CONFLICT (message_id) DO UPDATE SET adapter = EXCLUDED.adapter, parts = EXCLUDED.parts,"
        " attempt = EXCLUDED.attempt, updated_at = now()"
        " WHERE submissions.state = 'writing' AND (submissions.attempt = EXCLUDED.attempt"
        " OR submissions.updated_at < now() - make_interval(secs => $6::float8))"
        " RETURNING message_id::text AS m, attempt::text AS t",
        [m.message_id for m in markers], [m.org_id for m in markers], [m.adapter for m in markers],
        [m.parts for m in markers], [m.attempt for m in markers], take_over_after_s)
    return {(r["m"], r["t"]) for r in rows}


async def refresh_writing(conn: Any, message_id: str, attempt: str) -> None:
    """The attempt holding the marker is still at work: its age starts again (another's is left alone)."""
    await conn.execute("UPDATE submissions SET updated_at = now() WHERE message_id = $1::uuid AND state = 'writing'"
                       " AND attempt = $2::uuid", message_id, attempt)


async def clear_writing(conn: Any, message_id: str, attempt: str) -> None:
    """Nothing left after all: this attempt's marker goes (never another's), the next attempt starts clean."""
    await conn.execute("DELETE FROM submissions WHERE message_id = $1::uuid AND state = 'writing'"
                       " AND attempt = $2::uuid", message_id, attempt)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A submission's outcome to record: its state (submitted, refused, unconfirmed) and event, and for a
    submitted one the carrier's id of each of its parts, in order."""

    message_id: str
    org_id: str
    adapter: str
    state: str
    event: Event
    part_ids: tuple[str, ...] = ()
    error_code: str | None = None
    reason: str | None = None


_OUTCOME = {"id": "uuid", "org": "text", "adapter": "text", "state": "text", "cid": "text", "parts": "int",
            "code": "text", "reason": "text"}


def record(outcomes: Sequence[Outcome]) -> Write:
    """Outcomes of submissions (a message at most once), one statement: each one's event (after whatever
    its stream holds), the read model, and a submitted one's part ids pointing at it (a receipt already
    waiting in a part's row is kept) — over a marker or an earlier outcome, but never over a submission
    already recorded (no second MessageSubmitted from an attempt outlived by its marker, its upstream
    asked again by another): for that message nothing is written. The write answers one row per message
    it recorded (``message_id``)."""
    w = Write()
    rows: list[tuple[object, ...]] = []
    parts: list[tuple[object, ...]] = []
    for o in sorted(outcomes, key=lambda o: o.message_id):  # (rows locked in one order by every writer)
        w.append(stream(o.message_id), None, [o.event])
        rows.append((o.message_id, o.org_id, o.adapter, o.state, o.part_ids[0] if o.part_ids else None,
                     max(1, len(o.part_ids)), o.error_code, o.reason))
        parts.extend((cid, o.message_id, i) for i, cid in enumerate(o.part_ids, start=1))
    parts.sort(key=lambda p: str(p[0]))
    return w.project(sql(
        "INSERT INTO submissions (message_id, org_id, adapter, state, carrier_message_id, parts, error_code, reason,"
        " submitted_at) SELECT id, org, adapter, state, cid, parts, code, reason,"
        " CASE WHEN state = 'submitted' THEN now() END FROM :rows ORDER BY ord"
        " ON CONFLICT (message_id) DO UPDATE SET state = EXCLUDED.state, adapter = EXCLUDED.adapter,"
        " carrier_message_id = EXCLUDED.carrier_message_id, parts = EXCLUDED.parts, error_code = EXCLUDED.error_code,"
        " reason = EXCLUDED.reason, submitted_at = EXCLUDED.submitted_at, updated_at = now()"
        " WHERE submissions.state <> 'submitted' RETURNING message_id",
        rows=table("o", _OUTCOME, rows)), "recorded").project(sql(
            "INSERT INTO carrier_ids (carrier_message_id, message_id, part) SELECT cid, mid, part FROM :rows"
            " WHERE mid IN (SELECT message_id FROM recorded) ORDER BY ord"
            " ON CONFLICT (carrier_message_id) DO UPDATE SET message_id = EXCLUDED.message_id, part = EXCLUDED.part",
            rows=table("p", {"cid": "text", "mid": "uuid", "part": "int"}, parts))).only_where(
        sql("e.stream_id IN (SELECT 'submission-' || message_id::text FROM recorded)")).returning(
        sql("SELECT message_id::text AS message_id FROM recorded"))


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
