"""Storing a batch of inbound messages against real PostgreSQL: one statement per organization (its
arrival numbers) and ONE for the messages, their webhook deliveries and their events; a carrier message
id stored before is skipped with its event."""

from __future__ import annotations

from pathlib import Path

from libs.testing.statements import counted_store
from proto.base import new_id, rfc3339, utcnow
from proto.events.inbound import InboundMessageReceived
from services.inbound import store
from services.inbound.handlers import mo_event_id

SQL = Path(__file__).parent.parent / "sql"


def message(org_id: str, carrier_id: str | None = None, push: bool = True) -> tuple[store.NewMessage, str,
                                                                                        InboundMessageReceived]:
    mid, cid, now = new_id(), carrier_id or f"mo-{new_id()}", utcnow()
    ev = InboundMessageReceived(org_id=org_id, message_id=mid, carrier_message_id=cid, phone_number_id="pn-1",
                                from_="+14155550123", to="+14155550100", body="hi", received_at=rfc3339(now),
                                event_id=mo_event_id(cid))
    m = store.NewMessage(message_id=mid, org_id=org_id, carrier_message_id=cid, phone_number_id="pn-1",
                         event_id=ev.event_id, from_=ev.from_, to=ev.to, body=ev.body, received_at=now,
                         delivery_id=new_id() if push else None)
    return m, f"inbound_message-{mid}", ev


async def test_a_batch_is_one_statement_per_organization_and_one_for_the_rest(database_url: str,
                                                                              subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "inbound", SQL) as (es, statements):
        pool = es.pool
        a, b = new_id(), new_id()
        retried = message(a)
        async with es.transaction() as conn:  # asyncpg's first look at the types, out of the count
            await store.store_messages(conn, es, [retried])
        # when: a batch of two organizations' messages, one of them a retried callback, is stored
        batch = [message(a), message(b, push=False), message(a), message(a, retried[0].carrier_message_id)]
        async with es.transaction() as conn:
            statements.clear()
            stored = await store.store_messages(conn, es, batch)
            # then: two arrival-number statements and one for the rest
            assert len(statements) == 2 + 1
        assert set(stored) == {m.message_id for m, _, _ in batch[:3]}
        events = await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = ANY($1)",
                                     [s for _, s, _ in batch])
        deliveries = await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE message_id = ANY($1::uuid[])",
                                         [m.message_id for m, _, _ in batch])
        assert (events, deliveries) == (3, 2)
