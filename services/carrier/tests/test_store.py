"""The carrier's writes against real PostgreSQL: the outcomes of submissions acknowledged together (each
one's event, read model and part ids) are one statement whatever their number, and so are the markers of
attempts about to write; neither ever writes over a submission already recorded."""

from __future__ import annotations

from pathlib import Path

from libs.store.eventstore import EventStore
from libs.testing.statements import counted_store
from proto.base import new_id
from proto.events.carrier import MessageSubmitted, SubmissionRefused
from services.carrier import store

SQL = Path(__file__).parent.parent / "sql"
ORG = "00000000-0000-0000-0000-000000000001"


def submitted(mid: str, parts: int = 2) -> store.Outcome:
    ids = tuple(f"c-{mid}-{p}" for p in range(1, parts + 1))
    ev = MessageSubmitted(org_id=ORG, message_id=mid, carrier_message_id=ids[0], part_ids=list(ids), adapter="http")
    return store.Outcome(mid, ORG, "http", "submitted", ev, part_ids=ids)


async def submit(es: EventStore, mid: str) -> None:
    """A two-part submission recorded (parts c-<mid>-1 and c-<mid>-2)."""
    await es.write(store.record([submitted(mid)]))


async def test_outcomes_recorded_together_are_one_statement(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, statements):
        pool = es.pool
        await submit(es, new_id())  # asyncpg's first look at the types, out of the count
        # given: a receipt that came before its submission was recorded waits in its part's row
        mids = [new_id() for _ in range(30)]
        await pool.execute("INSERT INTO carrier_ids (carrier_message_id, stat, receipt_at) VALUES ($1, 'DELIVRD', now())",
                           f"c-{mids[0]}-2")
        refused = new_id()
        ev = SubmissionRefused(org_id=ORG, message_id=refused, error_code="ESME_RINVDSTADR", reason="bad number")
        statements.clear()
        # when: 30 submissions and a refusal are recorded at once
        rows = await es.write(store.record([submitted(m) for m in mids] + [store.Outcome(
            refused, ORG, "smpp", "refused", ev, error_code="ESME_RINVDSTADR", reason="bad number")]))
        # then: one statement, answering every message it recorded
        assert len(statements) == 1, statements.texts
        assert sorted(r["message_id"] for r in rows) == sorted([*mids, refused])
        for mid in mids[:3]:
            sub = (await store.submissions(pool, [mid])).get(mid)
            assert sub is not None and (sub["state"], sub["parts"], sub["carrier_message_id"]) == (
                "submitted", 2, f"c-{mid}-1")
            parts = await pool.fetch("SELECT carrier_message_id, part FROM carrier_ids WHERE message_id = $1::uuid"
                                     " ORDER BY part", mid)
            assert [(p["carrier_message_id"], p["part"]) for p in parts] == [(f"c-{mid}-1", 1), (f"c-{mid}-2", 2)]
        held = await pool.fetchrow("SELECT message_id::text AS m, stat FROM carrier_ids WHERE carrier_message_id = $1",
                                   f"c-{mids[0]}-2")
        assert (held["m"], held["stat"]) == (mids[0], "DELIVRD")  # the waiting receipt kept, now linked
        sub = (await store.submissions(pool, [refused])).get(refused)
        assert sub is not None and (sub["state"], sub["error_code"]) == ("refused", "ESME_RINVDSTADR")
        # when: a later attempt records one of them again, with another recorded for the first time
        late, new = submitted(mids[1]), new_id()
        statements.clear()
        again = await es.write(store.record([late, submitted(new)]))
        # then: only the new one is written; the recorded one keeps its single event
        assert [r["message_id"] for r in again] == [new]
        versions = await pool.fetch("SELECT version, event_type FROM events WHERE stream_id = $1", store.stream(mids[1]))
        assert [(r["version"], r["event_type"]) for r in versions] == [(1, "MessageSubmitted")]


async def test_markers_written_together_are_one_statement_and_never_over_a_live_one(
        database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, statements):
        pool = es.pool
        done = new_id()  # a message whose submission is recorded already
        await es.write(store.record([submitted(done)]))
        async with pool.acquire() as conn:  # (the pool's one connection)
            await store.mark_writing(conn, [store.Marker(new_id(), ORG, "smpp", 1, new_id())], None)  # (types)
            mids = [new_id() for _ in range(20)]
            mine = [store.Marker(m, ORG, "smpp", 1, new_id()) for m in mids]
            statements.clear()
            held = await store.mark_writing(conn, mine, None)
            assert len(statements) == 1
            assert held == {(m.message_id, m.attempt) for m in mine}
            # another attempt at two of them, and at a message already recorded: none is taken over
            other = [store.Marker(mids[0], ORG, "smpp", 1, new_id()), store.Marker(mids[1], ORG, "smpp", 1, new_id()),
                     store.Marker(done, ORG, "smpp", 1, new_id())]
            assert await store.mark_writing(conn, other, None) == set()
            # the attempt holding its marker refreshes it; with a take-over age of 0, the other takes it
            assert await store.mark_writing(conn, [mine[2]], None) == {(mids[2], mine[2].attempt)}
            assert await store.mark_writing(conn, other[:1], 0.0) == {(mids[0], other[0].attempt)}
            assert await store.mark_writing(conn, other[2:], 0.0) == set()  # never over a recorded submission
