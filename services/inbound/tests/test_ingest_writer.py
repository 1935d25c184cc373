"""The ingest writer against real PostgreSQL: compliance screens a batch while the batch before it is
still committing (the two stages overlap), each stage keeps the order the batches were queued in, and a
batch commits only after the one before it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from libs.testing.stores import migrated_store
from proto.base import new_id
from proto.events.inbound import InboundMessageReceived
from services.inbound.ingest import IngestWriter
from services.inbound.tests.test_store import message

SQL = Path(__file__).parent.parent / "sql"


async def test_a_batch_is_screened_while_the_one_before_commits(database_url: str, subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "inbound", SQL) as es:
        pool = es.pool
        org = new_id()
        await pool.execute("INSERT INTO org_sequences (org_id, last_seq) VALUES ($1, 0)", org)
        screened: list[list[str]] = []
        second = asyncio.Event()

        async def screen(evs: list[InboundMessageReceived]) -> None:
            screened.append([e.message_id for e in evs])
            if len(screened) == 2:
                second.set()

        writer = IngestWriter(es, screen, max_batch=2)
        first, later = [message(org), message(org)], message(org)
        async with pool.acquire() as holder, holder.transaction():
            # given: the organization's arrival counter is locked, so the first batch cannot commit
            await holder.execute("SELECT 1 FROM org_sequences WHERE org_id = $1 FOR UPDATE", org)
            pending = [writer.enqueue(*m) for m in first]
            while not screened:
                await asyncio.sleep(0.01)
            # when: the next message comes while the first batch waits to commit
            pending.append(writer.enqueue(*later))
            # then: it is screened meanwhile, and neither has committed
            await asyncio.wait_for(second.wait(), 20)
            assert screened == [[m[0].message_id for m in first], [later[0].message_id]]
            assert not any(f.done() for f in pending)
        # and once the lock goes, both commit, numbered in the order they came
        assert await asyncio.wait_for(asyncio.gather(*pending), 20) == [True, True, True]
        rows = await pool.fetch("SELECT id::text FROM inbound_messages WHERE org_id = $1 ORDER BY seq", org)
        assert [r["id"] for r in rows] == [m[0].message_id for m in (*first, later)]
        await writer.stop()
