"""Outbound's writes against real PostgreSQL, held to their round trips: a batch of accepted messages is
ONE statement (events, rows, timeline), and so is a batch of status changes the dispatcher or the
carrier's receipts make (events, rows set to their fold, timeline)."""

from __future__ import annotations

from pathlib import Path

from libs.testing.statements import counted_store
from proto.base import new_id, utcnow
from proto.events.outbound import MessageFacts
from services.outbound import model, projection, store
from services.outbound.commands import Accept, ApplyReceipt, Dispatch, RecordSent
from services.outbound.rules import Receipt

SQL = Path(__file__).parent.parent / "sql"
FACTS = MessageFacts(from_="+14155550100", to="+14155550123", text="hi", segments=1, encoding="GSM-7",
                     price_micros=7900, validity_seconds=3600, expires_at="2099-01-01T00:00:00.000Z")


def accepted(org_id: str) -> projection.Write:
    new = model.Message(id=new_id(), org_id=org_id)
    return projection.write_of(new, model.decide(new, Accept(FACTS, utcnow())).events)


async def test_a_batch_is_one_statement_each_step(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "outbound", SQL) as (es, statements):
        pool = es.pool
        org = new_id()
        await projection.insert(es, [accepted(org)])  # asyncpg's first look at the types, out of the count
        statements.clear()
        # when: 50 sends are accepted together
        batch = [accepted(org) for _ in range(50)]
        await projection.insert(es, batch)
        # then: one statement wrote their events, rows and timeline entries
        assert len(statements) == 1
        # when: the dispatcher marks them sending, then sent with a receipt that came first (held) for one
        async with es.transaction() as conn:
            now = await store.lock_many(conn, [w.after.id for w in batch])
            statements.clear()
            sending = [projection.write_of(m, model.decide(m, Dispatch(1, None)).events) for m in now.values()]
            await projection.write(conn, es, sending)
            assert len(statements) == 1
            held = model.hold(sending[0].after, Receipt(carrier_message_id="c-0", status="DELIVRD"))
            sent = [projection.write_of(m, model.decide(m, RecordSent(f"c-{i}")).events)
                    for i, m in enumerate([held, *(w.after for w in sending[1:])])]
            statements.clear()
            await projection.write(conn, es, sent)
            assert len(statements) == 1
            delivered = [projection.write_of(w.after, model.decide(w.after, ApplyReceipt(
                Receipt(carrier_message_id="x", status="DELIVRD"))).events) for w in sent[1:]]
            statements.clear()
            await projection.write(conn, es, delivered)
            assert len(statements) == 1
        # then: every message is delivered; its row the fold of its events, its timeline one entry each
        rows = await pool.fetch(f"SELECT {store.COLUMNS} FROM messages WHERE id = ANY($1::uuid[])",
                                [w.after.id for w in batch])
        assert [store.state(r).status for r in rows] == ["delivered"] * 50
        for w in batch[:3]:
            async with pool.acquire() as conn:
                events, version = await es.load(conn, store.stream_id(w.after.id))
            assert [type(e).__name__ for e in events] == ["MessageQueued", "MessageSending", "MessageSent",
                                                         "MessageDelivered"] and version == 4
            timeline = await store.timeline(pool, w.after.id)
            assert [t["status"] for t in timeline] == ["queued", "sending", "sent", "delivered"]
