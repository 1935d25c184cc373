"""Archival of finished streams (libs/store/archive.py) against real PostgreSQL: which streams move, which
stay, and that a stream moves whole."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.store.archive import archive_finished
from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from proto.base import new_id
from proto.events.accounts import CreditCaptured, CreditReserved
from proto.subjects import Subjects

ORG = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
async def store(database_url: str, subject_root: str) -> AsyncIterator[EventStore]:
    subjects = Subjects(subject_root)
    schema = subjects.schema("accounts")
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, None)
    yield EventStore(pool, schema, subjects, "accounts")
    await pool.close()


async def reservation(store: EventStore, captured: bool, days_old: float, published: bool = True) -> str:
    rid = new_id()
    stream = f"reservation-{rid}"
    events: list[CreditReserved | CreditCaptured] = [
        CreditReserved(org_id=ORG, reservation_id=rid, amount_micros=1, reason="message")]
    if captured:
        events.append(CreditCaptured(org_id=ORG, reservation_id=rid, amount_micros=1))
    async with store.transaction() as conn:
        await store.append(conn, stream, 0, events)
        await conn.execute("UPDATE events SET recorded_at = now() - make_interval(days => $2) WHERE stream_id = $1",
                           stream, int(days_old))
        if published:
            await conn.execute("DELETE FROM outbox WHERE position IN (SELECT position FROM events"
                               " WHERE stream_id = $1)", stream)
    return stream


async def where(pool: asyncpg.Pool, stream: str) -> tuple[int, int]:
    hot = await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream)
    cold = await pool.fetchval("SELECT count(*) FROM events_archive WHERE stream_id = $1", stream)
    return int(hot), int(cold)


async def test_only_old_finished_published_streams_move_whole(store: EventStore) -> None:
    old_done = await reservation(store, captured=True, days_old=40)
    old_open = await reservation(store, captured=False, days_old=40)  # held: may still be captured
    unpublished = await reservation(store, captured=True, days_old=40, published=False)
    new_done = await reservation(store, captured=True, days_old=2)  # the walk stops here
    after = await reservation(store, captured=True, days_old=40)  # (positions follow time live)
    moved = await archive_finished(store.pool, store.schema, 30.0, batch=2)
    assert moved.events == 2
    assert await where(store.pool, old_done) == (0, 2)
    for stream in (old_open, new_done, unpublished, after):
        assert (await where(store.pool, stream))[1] == 0, stream
    # the archived copy is the same events, in order
    rows = await store.pool.fetch("SELECT version, event_type FROM events_archive WHERE stream_id = $1"
                                  " ORDER BY version", old_done)
    assert [(r["version"], r["event_type"]) for r in rows] == [(1, "CreditReserved"), (2, "CreditCaptured")]
    # a batch is processed whole: a later run with a batch that reaches past the recent stream takes the
    # old finished one behind it too, and still leaves the others
    assert (await archive_finished(store.pool, store.schema, 30.0)).events == 2
    assert await where(store.pool, after) == (0, 2)
    for stream in (old_open, new_done, unpublished):
        assert (await where(store.pool, stream))[1] == 0, stream
    assert (await archive_finished(store.pool, store.schema, 30.0)).events == 0
