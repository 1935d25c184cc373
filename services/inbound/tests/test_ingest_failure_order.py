"""A conversation keeps its order when a batch fails: the carrier's texts reach inbound's pipelined
consumer in two batches, the second already in hand (screened, waiting for its commit turn) when the
first one's group commit, its screening at compliance, or the asking of its route fails. The failed batch's texts go again one by
one; the second batch must not commit ahead of them. Real NATS and PostgreSQL, numbers and compliance
stood in by responders on NATS; the fault is injected in our own seam (the writer's store call, or the
compliance or numbers responder answering 503)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import nats
import pytest

from libs.bus.conn import ensure_stream
from libs.bus.consumer import ConsumerRunner
from libs.bus.rpc import RpcClient, RpcServer
from libs.obs.settings import load_settings
from libs.testing import SLACK
from libs.testing.stores import migrated_store
from proto.base import CommandError, Event, new_id, utcnow
from proto.commands.compliance import InboundScreened, ScreenInbound
from proto.commands.numbers import InboundRoute, ResolveInbound
from proto.events import encode_event
from proto.events.carrier import InboundTextReceived
from proto.subjects import StreamSpec, Subjects
from services.inbound import store
from services.inbound.config import InboundSettings
from services.inbound.handlers import Inbound
from services.inbound.subscriptions import specs
from services.inbound.tests.test_ingest_order import CONTACT, NUMBER, SQL

OTHER = "+14155550199"


def mo(cid: str, contact: str = CONTACT) -> InboundTextReceived:
    return InboundTextReceived(org_id="", carrier_message_id=cid, from_=contact, to=NUMBER, text=cid,
                               received_at=utcnow())


async def until(cond: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(30 * SLACK):
        while not await cond():
            await asyncio.sleep(0.02)


class Faults:
    """The first batch's commit (``commit``), screening (``screen``) or route (``route``: numbers asked who
    owns the number) held until the test lets it fail."""

    def __init__(self, stage: str, org: str) -> None:
        self.stage = stage
        self.org = org
        self.resolved = 0
        self.first_in = asyncio.Event()
        self.fail = asyncio.Event()
        self.screened: list[str] = []
        self.commits = 0

    async def screen(self, cmd: ScreenInbound) -> InboundScreened:
        self.screened += [m.carrier_message_id for m in cmd.messages]
        if self.stage == "screen" and len(cmd.messages) > 1 and not self.first_in.is_set():
            self.first_in.set()
            await self.fail.wait()
            raise CommandError("COMPLIANCE_UNAVAILABLE", "injected", 503)
        return InboundScreened(screened=len(cmd.messages))

    async def resolve(self, cmd: ResolveInbound) -> InboundRoute:
        self.resolved += 1
        if self.stage == "route" and self.resolved == 1:
            self.first_in.set()
            await self.fail.wait()
            raise CommandError("NUMBERS_UNAVAILABLE", "injected", 503)
        return InboundRoute(org_id=self.org, phone_number_id="pn-1", e164=cmd.e164)

    def commit(self, real: Callable[..., Awaitable[dict[str, int]]]) -> Callable[..., Awaitable[dict[str, int]]]:
        async def store_messages(conn: asyncpg.Connection, es: object, batch: list[object]) -> dict[str, int]:
            self.commits += 1
            if self.stage == "commit" and self.commits == 1:
                self.first_in.set()
                await self.fail.wait()
                raise OSError("injected: the connection was lost at commit")
            return await real(conn, es, batch)
        return store_messages


@pytest.mark.parametrize("stage", ["commit", "screen", "route"])
async def test_a_failed_batch_is_not_overtaken_by_the_next_one_in_hand(
        nats_url: str, database_url: str, subject_root: str, stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    org = new_id()
    faults = Faults(stage, org)
    monkeypatch.setattr(store, "store_messages", faults.commit(store.store_messages))

    runner: ConsumerRunner | None = None
    try:
        await ensure_stream(nc, subjects, StreamSpec("carrier"))
        await RpcServer(nc, subjects, "fake-numbers").serve({ResolveInbound: faults.resolve})
        await RpcServer(nc, subjects, "fake-compliance").serve({ScreenInbound: faults.screen})
        settings = load_settings(InboundSettings, {"AM_INBOUND_ROUTE_CACHE_S": "0"})
        async with migrated_store(database_url, subject_root, "inbound", SQL) as es:
            inbound = Inbound(es, RpcClient(nc, subjects), settings)
            enqueued: list[str] = []
            enqueue = inbound.writer.enqueue

            def counted(message: store.NewMessage, *rest: Any) -> asyncio.Future[bool]:
                enqueued.append(message.carrier_message_id)
                return enqueue(message, *rest)
            monkeypatch.setattr(inbound.writer, "enqueue", counted)
            runner = ConsumerRunner(nc, subjects, es.pool, specs(inbound)[0])
            js = nc.jetstream()

            async def publish(ev: Event) -> None:
                await js.publish(subjects.of(InboundTextReceived), encode_event(ev))

            # given: the first text of a conversation is in a batch at work (after another contact's text),
            # held at its commit (or screening)
            await publish(mo("x1", OTHER))
            await publish(mo("c1"))
            await runner.start()
            await asyncio.wait_for(faults.first_in.wait(), 30 * SLACK)
            # and the next text of the conversation comes in the next batch, in hand meanwhile (screened
            # while the first commits, or queued behind the first's screening)
            await publish(mo("c2"))
            if stage == "commit":
                await until(lambda: _true("c2" in faults.screened))
            elif stage == "screen":
                await until(lambda: _true("c2" in enqueued))
            else:  # (its route answered at once; it waits for the first batch to queue its texts first)
                await until(lambda: _true(faults.resolved >= 2))
            # when: the first batch fails
            faults.fail.set()

            # then: all are stored, the conversation's texts in the order they came
            async def stored() -> bool:
                n: int = await es.pool.fetchval("SELECT count(*) FROM inbound_messages WHERE org_id = $1", org)
                return n == 3
            await until(stored)
            assert await conversation(es, org) == ["c1", "c2"]
            await runner.stop()
            runner = None
            await inbound.writer.stop()
    finally:
        if runner is not None:
            await runner.stop()
        await nc.close()


async def conversation(es: Any, org: str) -> list[str]:
    """The contact's texts as stored, in order."""
    rows = await es.pool.fetch("SELECT carrier_message_id FROM inbound_messages WHERE org_id = $1"
                               " AND from_number = $2 ORDER BY seq", org, CONTACT)
    return [r["carrier_message_id"] for r in rows]


async def _true(v: bool) -> bool:
    return v


class NumbersDown:
    """numbers answers 503 while ``down``."""

    def __init__(self, org: str) -> None:
        self.org = org
        self.down = True
        self.asked = 0

    async def resolve(self, cmd: ResolveInbound) -> InboundRoute:
        self.asked += 1
        if self.down:
            raise CommandError("NUMBERS_UNAVAILABLE", "injected", 503)
        return InboundRoute(org_id=self.org, phone_number_id="pn-1", e164=cmd.e164)


async def test_a_text_that_fails_one_by_one_too_is_not_overtaken_by_the_next_text_of_its_conversation(
        nats_url: str, database_url: str, subject_root: str) -> None:
    """The first text fails in its batch and again one by one (nak'd: it comes back after a delay); the
    contact's next text, arriving meanwhile, waits behind it instead of being stored first. Another
    contact's text does not wait."""
    subjects = Subjects(subject_root)
    org = new_id()
    numbers = NumbersDown(org)
    async with contextlib.AsyncExitStack() as cleanup:
        nc = await nats.connect(nats_url)
        cleanup.push_async_callback(nc.close)
        await ensure_stream(nc, subjects, StreamSpec("carrier"))
        await RpcServer(nc, subjects, "fake-numbers").serve({ResolveInbound: numbers.resolve})

        async def screen(cmd: ScreenInbound) -> InboundScreened:
            return InboundScreened(screened=len(cmd.messages))
        await RpcServer(nc, subjects, "fake-compliance").serve({ScreenInbound: screen})
        settings = load_settings(InboundSettings, {"AM_INBOUND_ROUTE_CACHE_S": "0"})
        es = await cleanup.enter_async_context(migrated_store(database_url, subject_root, "inbound", SQL))
        inbound = Inbound(es, RpcClient(nc, subjects), settings)
        # (a nak delay of 2 s: the next text surely comes while the first waits to come again)
        spec = dataclasses.replace(specs(inbound)[0], backoff_base_s=2.0)
        runner = ConsumerRunner(nc, subjects, es.pool, spec)
        cleanup.push_async_callback(inbound.writer.stop)
        cleanup.push_async_callback(runner.stop)  # (first: nothing handed to the writer after it stops)
        js = nc.jetstream()

        async def publish(ev: Event) -> None:
            await js.publish(subjects.of(InboundTextReceived), encode_event(ev))

        async def stored(*cids: str) -> bool:
            n: int = await es.pool.fetchval("SELECT count(*) FROM inbound_messages WHERE org_id = $1"
                                            " AND carrier_message_id = ANY($2)", org, list(cids))
            return n == len(cids)

        # given: the first text could not be stored, in its batch nor one by one
        await publish(mo("c1"))
        await runner.start()
        await until(lambda: _true(bool(inbound.stalled)))
        # when: numbers answers again, and the contact's next text comes, with another contact's
        numbers.down = False
        await publish(mo("c2"))
        await publish(mo("x1", OTHER))
        # then: the other contact's text is stored at once, and the conversation in the order it came
        await until(lambda: stored("x1"))
        await until(lambda: stored("c1", "c2"))
        assert await conversation(es, org) == ["c1", "c2"]
        assert not inbound.stalled
