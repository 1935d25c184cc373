"""Events are stored as their producer encoded them (json, not jsonb): appended, read back and published
byte for byte; and a store from before keeps its events through the migration."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from libs.bus.conn import ensure_stream
from libs.store import Write
from libs.store.db import _BASE_SQL, create_pool, migrate
from libs.store.eventstore import EventStore
from libs.store.relay import Relay
from libs.testing import SLACK
from proto.base import new_id
from proto.events import decode_event, encode_event
from proto.events.accounts import CreditGranted
from proto.subjects import StreamSpec, Subjects

ORG = "00000000-0000-0000-0000-000000000001"


def grant(reason: str) -> CreditGranted:
    return CreditGranted(org_id=ORG, entry_id=new_id(), amount_micros=1, reason=reason)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


async def test_an_event_is_kept_and_published_as_it_was_encoded(nc: Client, database_url: str,
                                                                 subject_root: str) -> None:
    subjects = Subjects(subject_root)
    schema = subjects.schema("accounts")
    pool = await create_pool(database_url, schema)
    try:
        await migrate(pool, schema, None)
        await ensure_stream(nc, subjects, StreamSpec("accounts"))
        store = EventStore(pool, schema, subjects, "accounts")
        # given two events appended both ways the services append (one of them with text jsonb would
        # reorder and respace: keys of several lengths, a nested quote, non-ASCII)
        first, second = grant('a "quoted" reason, café'), grant("z")
        async with store.transaction() as conn:
            await store.append(conn, f"credit-{first.entry_id}", 0, [first])
        await store.write(Write().append(f"credit-{second.entry_id}", 0, [second]))
        # then each one's stored text is its encoding, byte for byte
        rows = await pool.fetch("SELECT event_id::text AS id, data::text AS data FROM events ORDER BY position")
        assert [(r["id"], r["data"]) for r in rows] == [
            (ev.event_id, encode_event(ev).decode()) for ev in (first, second)]
        assert await pool.fetchval("SELECT pg_typeof(data)::text || ',' || pg_typeof(headers)::text FROM events"
                                   " LIMIT 1") == "json,json"
        # and what the relay publishes is that encoding too
        sub = await nc.subscribe(f"{subjects.root}.accounts.>")
        assert await Relay(pool, nc, schema, "accounts").publish_pending() == 2
        published = [(await sub.next_msg(timeout=10 * SLACK)).data for _ in range(2)]
        assert published == [encode_event(first), encode_event(second)]
        await sub.unsubscribe()
    finally:
        await pool.close()


async def test_a_store_from_before_keeps_its_events_through_the_migration(database_url: str,
                                                                          subject_root: str) -> None:
    schema = Subjects(subject_root).schema("numbers")
    pool = await create_pool(database_url, schema)
    try:
        # given a store as it was (events and headers jsonb), with an event and an archived one
        await pool.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        for name in ("0000_eventstore.sql", "0001_outbox.sql"):
            await pool.execute((_BASE_SQL / name).read_text())
            await pool.execute("INSERT INTO schema_migrations (name) VALUES ($1)", f"sql/{name}")
        assert await pool.fetchval("SELECT pg_typeof(data)::text FROM (SELECT NULL::jsonb AS data"
                                   " UNION ALL SELECT data FROM events) t LIMIT 1") == "jsonb"
        kept, archived = grant("kept"), grant("archived")
        for ev in (kept, archived):
            await pool.execute(
                "INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data, headers)"
                " VALUES ($1, 1, $2::uuid, 'CreditGranted', 'x', $3, $4::jsonb, '{\"traceparent\": \"t\"}'::jsonb)",
                f"credit-{ev.entry_id}", ev.event_id, ORG, encode_event(ev).decode())
        await pool.execute("CREATE TABLE events_archive (LIKE events)")
        await pool.execute("WITH moved AS (DELETE FROM events WHERE event_id = $1::uuid RETURNING *)"
                           " INSERT INTO events_archive SELECT * FROM moved", archived.event_id)
        # when the services start on it (their migrations run)
        assert "sql/0002_events_verbatim.sql" in await migrate(pool, schema, None)
        # then both tables hold json, every event as it was, and new appends take the default headers
        for table, ev in (("events", kept), ("events_archive", archived)):
            row = await pool.fetchrow(f"SELECT pg_typeof(data)::text AS t, pg_typeof(headers)::text AS h,"
                                      f" data::text AS data, headers::text AS headers FROM {table}")
            assert (row["t"], row["h"]) == ("json", "json")
            assert decode_event(row["data"]) == ev and row["headers"] == '{"traceparent": "t"}'
        await pool.execute("INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data)"
                           " VALUES ('s', 1, $1::uuid, 'CreditGranted', 'x', $2, '{}')", new_id(), ORG)
        assert await pool.fetchval("SELECT headers::text FROM events WHERE stream_id = 's'") == "{}"
    finally:
        await pool.close()
