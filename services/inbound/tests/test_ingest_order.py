"""Overlapping ingests keep a conversation's order: a consumer hands inbound its next batch while the
previous one is still at work (the route still being asked of numbers, the commit under way), and the
next batch's texts are still numbered after the previous batch's. Real NATS and PostgreSQL; numbers and
compliance stood in by responders answering their commands on NATS as the contracts say."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats

from libs.bus.rpc import RpcClient, RpcServer
from libs.obs.settings import load_settings
from libs.testing.stores import migrated_store
from proto.base import new_id, utcnow
from proto.commands.compliance import InboundScreened, ScreenInbound
from proto.commands.numbers import InboundRoute, ResolveInbound
from proto.events.carrier import InboundTextReceived
from proto.subjects import Subjects
from services.inbound.config import InboundSettings
from services.inbound.handlers import Inbound

SQL = Path(__file__).parent.parent / "sql"
NUMBER, CONTACT = "+14155550100", "+14155550123"


async def test_a_batch_handed_over_while_the_one_before_waits_is_numbered_after_it(
        nats_url: str, database_url: str, subject_root: str) -> None:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    org, asked, first_answer, seen = new_id(), asyncio.Queue[str](), asyncio.Event(), list[str]()

    async def resolve(cmd: ResolveInbound) -> InboundRoute:
        n = len(seen)
        seen.append(cmd.e164)
        await asked.put(cmd.e164)
        if n == 0:  # the first batch's route: answered only when the test says
            await first_answer.wait()
        return InboundRoute(org_id=org, phone_number_id=new_id(), e164=cmd.e164)

    async def screen(cmd: ScreenInbound) -> InboundScreened:
        return InboundScreened(screened=len(cmd.messages))

    try:
        await RpcServer(nc, subjects, "fake-numbers").serve({ResolveInbound: resolve})
        await RpcServer(nc, subjects, "fake-compliance").serve({ScreenInbound: screen})
        settings = load_settings(InboundSettings, {"AM_INBOUND_ROUTE_CACHE_S": "0"})
        async with migrated_store(database_url, subject_root, "inbound", SQL) as es:
            await ordered(Inbound(es, RpcClient(nc, subjects), settings), first_answer, asked, org)
    finally:
        await nc.close()


def mo(cid: str) -> InboundTextReceived:
    return InboundTextReceived(org_id="", carrier_message_id=cid, from_=CONTACT, to=NUMBER, text=cid,
                               received_at=utcnow())


async def ordered(inbound: Inbound, first_answer: asyncio.Event, asked: asyncio.Queue[str], org: str) -> None:
    # when: a batch's route is still being asked when the next batch of the same conversation comes
    first = asyncio.create_task(inbound.ingest_many([mo("a1"), mo("a2")]))
    await asyncio.wait_for(asked.get(), 30)
    second = asyncio.create_task(inbound.ingest_many([mo("b1")]))
    await asyncio.wait_for(asked.get(), 30)  # (its route answered at once)
    await asyncio.wait({second}, timeout=1.0)  # the second goes as far as it may
    first_answer.set()
    results = await asyncio.wait_for(asyncio.gather(first, second), 30)
    # then: all stored, numbered in the order they came
    assert results == [["stored", "stored"], ["stored"]]
    rows = await inbound.pool.fetch("SELECT carrier_message_id FROM inbound_messages WHERE org_id = $1 ORDER BY seq",
                                    org)
    assert [r["carrier_message_id"] for r in rows] == ["a1", "a2", "b1"]
    await inbound.writer.stop()
