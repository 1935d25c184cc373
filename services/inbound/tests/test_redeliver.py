"""Two redeliveries of the same inbound message asked at once, when it has no webhook delivery yet (it
came while its number had no inbound_url), against real PostgreSQL and NATS: both are answered, and they
share the one delivery (one row, one RedeliveryRequested, so one POST)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from libs.bus.rpc import RpcClient
from libs.testing import SLACK
from libs.testing.stores import migrated_store
from proto.base import CommandError, new_id
from proto.commands.inbound import Redeliver
from proto.commands.numbers import InboundRoute
from proto.http.inbound import DeliveriesView
from proto.subjects import Subjects
from services.inbound import store
from services.inbound.config import InboundSettings
from services.inbound.handlers import Inbound
from services.inbound.tests.test_store import message

SQL = Path(__file__).parent.parent / "sql"
TO = "+14155550100"


@pytest.fixture
async def inbound(database_url: str, nats_url: str, subject_root: str) -> AsyncIterator[Inbound]:
    nc = await nats.connect(nats_url)
    async with migrated_store(database_url, subject_root, "inbound", SQL) as es:
        yield Inbound(es, RpcClient(nc, Subjects(subject_root)), InboundSettings())
    await nc.close()


async def undelivered(inbound: Inbound, org_id: str) -> str:
    """A stored message with no webhook delivery (none was queued when it came)."""
    m, stream, ev = message(org_id, push=False)
    async with inbound.store.transaction() as conn:
        await store.store_messages(conn, inbound.store, [(m, stream, ev)])
    return m.message_id


async def waiting(inbound: Inbound, n: int) -> None:
    """Until ``n`` of the service's sessions wait on a lock."""
    async with asyncio.timeout(15 * SLACK):
        while await inbound.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                f"am-{inbound.store.schema}") < n:
            await asyncio.sleep(0.01)


async def test_two_redeliveries_at_once_share_one_delivery(inbound: Inbound) -> None:
    # given: a message with no delivery yet, its number now with an inbound_url
    org = new_id()
    mid = await undelivered(inbound, org)
    inbound._routes.put(TO, InboundRoute(org_id=org, phone_number_id="pn-1", e164=TO,
                                         inbound_url="http://127.0.0.1:9/hook", webhook_secrets=["s"]))
    # when: two redeliveries are asked at once, both past their look for a delivery before either commits
    # (the message row held, so both wait at the delivery's foreign key check or behind each other)
    async with inbound.pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM inbound_messages WHERE id = $1::uuid FOR UPDATE", mid)
        calls = [asyncio.create_task(inbound.redeliver(Redeliver(org_id=org, message_id=mid))) for _ in range(2)]
        await waiting(inbound, 2)
        await tx.rollback()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    # then: both are answered with the one pending delivery, requested once
    for a in answers:
        assert isinstance(a, DeliveriesView) and a.state == "pending", repr(a)
        assert not isinstance(a, CommandError)
    deliveries = await inbound.pool.fetch("SELECT id::text AS id FROM webhook_deliveries WHERE message_id = $1::uuid",
                                          mid)
    assert len(deliveries) == 1
    events = await inbound.pool.fetch("SELECT event_type FROM events WHERE stream_id = $1",
                                      store.stream_id(deliveries[0]["id"]))
    assert [e["event_type"] for e in events] == ["RedeliveryRequested"]
