"""Archival of finished streams: their events leave ``events`` for ``events_archive`` once old.

A stream is archived when its last event is one after which its aggregate takes no more (``FINISHED``:
a message delivered, undelivered, failed or canceled; a reservation captured or released; a credit grant;
an inbound text stored; a page of gate decisions; a number order's credit settled) and every event of it was recorded more than
``after_days`` days ago, and none of its events still waits in the outbox. The whole stream moves, in
one statement (its rows deleted from ``events`` and inserted into ``events_archive``, same columns), so a
stream is either wholly hot or wholly archived. Read models are not touched: they are each stream's
snapshot, and every read the API serves (a message, its timeline, a page of messages, an inbound text)
comes from them, so archived resources answer exactly as before. What changes is that ``EventStore.load``
no longer sees those events — by construction nobody loads a finished stream again — and ``events`` and
its indexes, which every append writes to, stay the size of the recent past instead of all of history.
Streams that never finish (organizations, API keys, contacts' consent, numbers) stay in ``events``.

``events`` is walked in position order (positions grow with time) from the oldest, a batch at a time, and
the walk stops at the first event newer than the cut-off, so a run reads only old rows.
Services run it every ``AM_EVENTS_ARCHIVE_INTERVAL_S`` when ``AM_EVENTS_ARCHIVE_AFTER_DAYS`` > 0 (one
replica at a time, under an advisory lock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg
import structlog

from proto.events.accounts import CreditCaptured, CreditGranted, CreditReleased
from proto.events.compliance import GateDecisionRecorded, GateDecisionsRecorded
from proto.events.inbound import InboundMessageReceived, UnroutedMessageReceived
from proto.events.numbers import NumberOrderSettled
from proto.events.outbound import MessageCanceled, MessageDelivered, MessageFailed, MessageUndelivered

log = structlog.get_logger(__name__)

FINISHED: frozenset[str] = frozenset(cls.type_name() for cls in (
    MessageDelivered, MessageUndelivered, MessageFailed, MessageCanceled,
    CreditCaptured, CreditReleased, CreditGranted,
    InboundMessageReceived, UnroutedMessageReceived,
    GateDecisionRecorded, GateDecisionsRecorded,
    NumberOrderSettled,
))
"""Event types after which their stream takes no more events."""

_ARCHIVE_TABLE = (
    "CREATE TABLE IF NOT EXISTS events_archive (LIKE events);"
    " ALTER TABLE events_archive ADD COLUMN IF NOT EXISTS archived_at timestamptz NOT NULL DEFAULT now();"
    " CREATE UNIQUE INDEX IF NOT EXISTS events_archive_stream ON events_archive (stream_id, version);"
    " CREATE INDEX IF NOT EXISTS events_archive_org ON events_archive (org_id, position);"
)

_COLUMNS = "position, stream_id, version, event_id, event_type, subject, org_id, data, headers, recorded_at"
# One batch: the next $2 events after position $1; of their streams, those whose last event is finished
# and recorded before the cut-off with none newer and none unpublished, moved whole.
_MOVE = (
    "WITH batch AS (SELECT position, stream_id, recorded_at FROM events WHERE position > $1"
    "  ORDER BY position LIMIT $2),"
    " old AS (SELECT DISTINCT stream_id FROM batch WHERE recorded_at < $3),"
    " done AS (SELECT o.stream_id FROM old o"
    "  CROSS JOIN LATERAL (SELECT event_type, recorded_at FROM events e WHERE e.stream_id = o.stream_id"
    "   ORDER BY version DESC LIMIT 1) last"
    "  WHERE last.event_type = ANY($4::text[]) AND last.recorded_at < $3"
    "  AND NOT EXISTS (SELECT 1 FROM events e JOIN outbox x ON x.position = e.position"
    "   WHERE e.stream_id = o.stream_id)),"
    f" moved AS (DELETE FROM events e USING done WHERE e.stream_id = done.stream_id RETURNING"
    f" {', '.join('e.' + c for c in _COLUMNS.split(', '))}),"
    f" ins AS (INSERT INTO events_archive ({_COLUMNS}) SELECT {_COLUMNS} FROM moved RETURNING 1)"
    " SELECT (SELECT count(*) FROM ins) AS moved, (SELECT max(position) FROM batch) AS last,"
    "  (SELECT count(*) FROM batch WHERE recorded_at >= $3) AS recent"
)


@dataclass(frozen=True)
class Archived:
    events: int
    scanned_to: int


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"archive:{schema}".encode()).digest()[:8], "big", signed=True)


async def archive_finished(pool: asyncpg.Pool, schema: str, after_days: float, *, batch: int = 5000,
                           max_batches: int = 1000) -> Archived:
    """Move the finished streams older than ``after_days`` to ``events_archive`` (see the module)."""
    async with pool.acquire() as conn:
        await conn.execute(_ARCHIVE_TABLE)
    moved = position = 0
    for _ in range(max_batches):
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _lock_key(schema)):
                break  # another replica archives
            row = await conn.fetchrow(_MOVE, position, batch,
                                      await conn.fetchval("SELECT now() - make_interval(secs => $1)",
                                                          after_days * 86400.0), list(FINISHED))
        moved += row["moved"]
        if row["last"] is None or row["recent"]:
            break
        position = row["last"]
    if moved:
        log.info("events_archived", schema=schema, events=moved, after_days=after_days)
    return Archived(events=moved, scanned_to=position)
