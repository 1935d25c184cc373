"""Receipts recorded by the batch against real PostgreSQL: a batch of receipts takes the same few
statements whatever its size, and each receipt has the effect it had one by one — a message's receipt
published once (for a message in parts, once every part is delivered), a repeat a duplicate, a receipt
before our record of the submission held until that record settles it."""

from __future__ import annotations

from pathlib import Path

from libs.smpp.receipt import Receipt
from libs.testing.statements import counted_store
from proto.base import new_id
from services.carrier import receipts, store
from services.carrier.tests.test_store import submit

SQL = Path(__file__).parent.parent / "sql"


def delivered(cid: str) -> Receipt:
    return Receipt(message_id=cid, stat="DELIVRD", done_at="2026-12-06T12:00:00Z")


async def test_a_batch_of_receipts_is_a_few_statements_with_each_one_s_effect(database_url: str,
                                                                               subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, statements):
        pool = es.pool
        warm = new_id()
        await submit(es, warm)  # (two parts each: c-<mid>-1, c-<mid>-2)
        async with es.transaction() as conn:  # asyncpg's first look at the types, out of the count
            await receipts.record_many(conn, es, [delivered(f"c-{warm}-1"), delivered(f"c-{warm}-2")])
        mids = [new_id() for _ in range(40)]
        for mid in mids:
            await submit(es, mid)
        # when: one batch brings both parts' receipts of 40 messages, one of them twice, and a receipt
        # for a part nobody recorded yet
        batch = [delivered(f"c-{m}-{p}") for p in (1, 2) for m in mids] + [delivered(f"c-{mids[0]}-2"),
                                                                          delivered("c-unknown")]
        statements.clear()
        async with es.transaction() as conn:
            effects = await receipts.record_many(conn, es, batch)
        # then: BEGIN, COMMIT and two rounds (the repeated part's second receipt sees its first) of at most
        # four statements each: the parts' receipts, the submissions locked, their parts, the publishing write
        assert len(statements) <= 2 + 2 * 4, statements.texts
        assert effects[:40] == ["pending"] * 40  # the first parts: the message waits for its second
        assert [e.message_id if isinstance(e, receipts.Published) else e for e in effects[40:80]] == mids
        assert effects[80:] == ["duplicate", "held"]
        # each message's receipt published once, after its submission, its status set
        for mid in mids[:3]:
            rows = await pool.fetch("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
                                    store.stream(mid))
            assert [r["event_type"] for r in rows] == ["MessageSubmitted", "ReceiptReceived"]
            sub = (await store.submissions(pool, [mid])).get(mid)
            assert sub is not None and sub["receipt_status"] == "DELIVRD"
        # when: the same receipts come again (the SMSC resent them): duplicates, nothing published
        async with es.transaction() as conn:
            again = await receipts.record_many(conn, es, [delivered(f"c-{mids[1]}-2")])
        assert again == ["duplicate"]
        assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'ReceiptReceived'") == 41


async def test_a_batch_of_receipt_statuses_reaches_its_submissions_by_id(database_url: str,
                                                                          subject_root: str) -> None:
    """(As inbound's batches, ``services/inbound/tests/test_batch_plans.py``: whatever the planner believes
    of the table's size, with its other choices made to look dearer, no read of it goes unbounded.)"""
    from libs.testing.plans import plan_of, unbounded_scans

    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, _statements):
        text, args = receipts.receipted([(new_id(), "DELIVRD"), (new_id(), "UNDELIV")]).compile()
        plan = await plan_of(es.pool, text, *args, off=("hashjoin", "nestloop", "seqscan", "bitmapscan"))
        assert unbounded_scans(plan, "submissions") == [], plan
