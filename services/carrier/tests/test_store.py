"""The carrier's writes against real PostgreSQL: a submission's outcome (its event, read model and part
ids) and a receipt (its event and status) are one statement each."""

from __future__ import annotations

from pathlib import Path

from libs.store.eventstore import EventStore
from libs.testing.statements import counted_store
from proto.base import new_id
from proto.events.carrier import MessageSubmitted, ReceiptReceived
from services.carrier import store

SQL = Path(__file__).parent.parent / "sql"
ORG = "00000000-0000-0000-0000-000000000001"


async def submit(es: EventStore, mid: str) -> None:
    ids = [f"c-{mid}-1", f"c-{mid}-2"]
    ev = MessageSubmitted(org_id=ORG, message_id=mid, carrier_message_id=ids[0], part_ids=ids, adapter="http")
    await es.write(store.record(mid, ORG, "http", "submitted", ev, carrier_message_id=ids[0], parts=2)
                   .project(store.link_parts(mid, ids)))


async def test_an_outcome_and_a_receipt_are_one_statement_each(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, statements):
        pool = es.pool
        await submit(es, new_id())  # asyncpg's first look at the types, out of the count
        statements.clear()
        # when: a submission is recorded, then its receipt
        mid = new_id()
        await submit(es, mid)
        assert len(statements) == 1
        async with es.transaction() as conn:
            statements.clear()
            await es.write(store.record_receipt(mid, ReceiptReceived(
                org_id=ORG, message_id=mid, carrier_message_id=f"c-{mid}-1", status="DELIVRD"), "DELIVRD"), conn)
            assert len(statements) == 1
        # then: the stream holds both, in order, and the read models follow
        rows = await pool.fetch("SELECT version, event_type FROM events WHERE stream_id = $1 ORDER BY version",
                                store.stream(mid))
        assert [(r["version"], r["event_type"]) for r in rows] == [(1, "MessageSubmitted"), (2, "ReceiptReceived")]
        sub = await store.submission(pool, mid)
        assert sub is not None and (sub["state"], sub["receipt_status"], sub["parts"]) == ("submitted", "DELIVRD", 2)
        parts = await pool.fetch(
            "SELECT part FROM carrier_ids WHERE message_id = $1::uuid ORDER BY part", mid)
        assert [p["part"] for p in parts] == [1, 2]
