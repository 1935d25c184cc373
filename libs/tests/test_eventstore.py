"""Event store, outbox relay and consumers against real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client

from libs.bus.conn import ensure_stream
from libs.bus.consumer import ConsumerRunner, ConsumerSpec, Permanent
from libs.store.db import create_pool, migrate
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.store.processed import claim
from libs.store.relay import Relay
from proto.base import Event, new_id
from proto.events.accounts import CreditGranted
from proto.subjects import StreamSpec, Subjects


@dataclass
class Env:
    store: EventStore
    nc: Client
    subjects: Subjects


@pytest.fixture
async def env(nats_url: str, database_url: str, subject_root: str) -> AsyncIterator[Env]:
    subjects = Subjects(subject_root)
    pool = await create_pool(database_url, subjects.schema("accounts"))
    await migrate(pool, subjects.schema("accounts"), None)
    await pool.execute("CREATE TABLE IF NOT EXISTS effects (event_id uuid PRIMARY KEY, n int NOT NULL)")
    nc = await nats.connect(nats_url)
    await ensure_stream(nc, subjects, StreamSpec("accounts"))
    yield Env(EventStore(pool, subjects.schema("accounts"), subjects, "accounts"), nc, subjects)
    await nc.close()
    await pool.close()


def grant(org: str = "00000000-0000-0000-0000-000000000001") -> CreditGranted:
    return CreditGranted(org_id=org, entry_id=new_id(), amount_micros=1, reason="test")


async def stream_count(env: Env) -> int:
    info = await env.nc.jetstream().stream_info(env.subjects.stream_name("accounts"))
    return int(info.state.messages)


async def test_append_conflict_is_typed_and_leaves_the_stream_intact(env: Env) -> None:
    async with env.store.transaction() as conn:
        assert await env.store.append(conn, "credit-x", 0, [grant()]) == 1
    with pytest.raises(ConcurrencyError):
        async with env.store.transaction() as conn:
            await env.store.append(conn, "credit-x", 0, [grant()])
    async with env.store.transaction() as conn:
        events, version = await env.store.load(conn, "credit-x")
        assert version == 1 and len(events) == 1
        assert await env.store.append(conn, "credit-x", version, [grant(), grant()]) == 3


async def test_committed_unpublished_event_is_published_once_after_a_crash(env: Env) -> None:
    async with env.store.transaction() as conn:
        await env.store.append(conn, "credit-y", 0, [grant()])
    relay = Relay(env.store.pool, env.nc, env.store.schema, "accounts")
    assert await relay.publish_pending() == 1
    # the crash: published to NATS, but the mark never committed
    await env.store.pool.execute("INSERT INTO outbox (position) SELECT position FROM events")
    assert await relay.publish_pending() == 1  # re-published...
    assert await stream_count(env) == 1  # ...and de-duplicated by Nats-Msg-Id
    assert await relay.publish_pending() == 0


async def test_relay_is_woken_by_notify(env: Env) -> None:
    relay = Relay(env.store.pool, env.nc, env.store.schema, "accounts", sweep_interval=30)
    relay.start()
    try:
        await asyncio.sleep(0.3)
        async with env.store.transaction() as conn:
            await env.store.append(conn, "credit-z", 0, [grant()])
        for _ in range(50):
            if await stream_count(env) == 1:
                break
            await asyncio.sleep(0.02)
        assert await stream_count(env) == 1  # well before the 30 s sweep
    finally:
        await relay.stop()


async def _run_consumer(env: Env, spec: ConsumerSpec) -> ConsumerRunner:
    runner = ConsumerRunner(env.nc, env.subjects, env.store.pool, spec)
    await runner.start()
    return runner


async def test_a_redelivered_event_changes_nothing(env: Env) -> None:
    seen = asyncio.Queue[str]()

    async def handler(ev: Event) -> None:
        async with env.store.transaction() as conn:
            if await claim(conn, "test-effects", ev.event_id):
                await conn.execute("INSERT INTO effects VALUES ($1::uuid, 1)", ev.event_id)
        await seen.put(ev.event_id)

    runner = await _run_consumer(env, ConsumerSpec("test-effects", (CreditGranted,), handler))
    ev = grant()
    js = env.nc.jetstream()
    subject = env.subjects.of(CreditGranted, ev.org_id)
    from proto.events import encode_event

    await js.publish(subject, encode_event(ev), headers={"Nats-Msg-Id": "a"})
    await js.publish(subject, encode_event(ev), headers={"Nats-Msg-Id": "b"})  # the same event again
    assert await asyncio.wait_for(seen.get(), 5) == ev.event_id
    assert await asyncio.wait_for(seen.get(), 5) == ev.event_id
    await runner.stop()
    assert await env.store.pool.fetchval("SELECT count(*) FROM effects") == 1


async def test_poison_messages_are_dead_lettered_not_retried_forever(env: Env) -> None:
    calls = 0

    async def handler(ev: Event) -> None:
        nonlocal calls
        calls += 1
        if ev.reason == "permanent":  # type: ignore[attr-defined]
            raise Permanent("cannot ever work")
        raise RuntimeError("always failing")

    spec = ConsumerSpec("test-poison", (CreditGranted,), handler, max_deliver=3, backoff_base_s=0.01)
    runner = await _run_consumer(env, spec)
    js = env.nc.jetstream()
    org = "00000000-0000-0000-0000-000000000002"
    subject = env.subjects.of(CreditGranted, org)
    from proto.events import encode_event

    await js.publish(subject, b"not json at all")
    await js.publish(subject, encode_event(grant(org)))
    await js.publish(subject, encode_event(CreditGranted(org_id=org, entry_id=new_id(), amount_micros=1,
                                                         reason="permanent")))
    for _ in range(200):
        n = await env.store.pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = 'test-poison'")
        if n == 3:
            break
        await asyncio.sleep(0.05)
    await runner.stop()
    reasons = sorted(r["reason"].split(":")[0] for r in await env.store.pool.fetch(
        "SELECT reason FROM dead_letters WHERE consumer = 'test-poison'"))
    assert reasons == ["max deliveries reached", "permanent", "undecodable"]
    assert calls == 3 + 1  # three tries of the failing one, one of the permanent one


async def test_a_consumers_bulk_path_takes_what_it_can_and_the_handler_the_rest(env: Env) -> None:
    from proto.events import encode_event

    events = [grant() for _ in range(6)]
    js = env.nc.jetstream()
    for ev in events:  # all on the stream before the consumer's first fetch: one batch
        await js.publish(env.subjects.of(CreditGranted, ev.org_id), encode_event(ev))
    bulk: list[list[str]] = []
    one_by_one: list[str] = []

    async def absorb(batch: list[Event]) -> set[str]:
        bulk.append([e.event_id for e in batch])
        return {e.event_id for k, e in enumerate(batch) if k % 2 == 0}

    async def handler(ev: Event) -> None:
        one_by_one.append(ev.event_id)

    runner = await _run_consumer(env, ConsumerSpec("test-absorb", (CreditGranted,), handler, absorb=absorb))
    try:
        ids = [e.event_id for e in events]
        for _ in range(100):
            if len(one_by_one) >= 3:
                break
            await asyncio.sleep(0.05)
        assert bulk == [ids]  # the batch, in stream order
        assert one_by_one == ids[1::2]  # the rest, in order
        info = await js.consumer_info(env.subjects.stream_name("accounts"), "test-absorb")
        assert info.num_ack_pending == 0 and info.num_pending == 0  # all acknowledged
    finally:
        await runner.stop()


async def test_a_failing_bulk_path_leaves_every_event_to_the_handler(env: Env) -> None:
    from proto.events import encode_event

    events = [grant() for _ in range(3)]
    js = env.nc.jetstream()
    for ev in events:
        await js.publish(env.subjects.of(CreditGranted, ev.org_id), encode_event(ev))
    handled: list[str] = []

    async def absorb(batch: list[Event]) -> set[str]:
        raise RuntimeError("database away")

    async def handler(ev: Event) -> None:
        handled.append(ev.event_id)

    runner = await _run_consumer(env, ConsumerSpec("test-absorb-fails", (CreditGranted,), handler,
                                                   absorb=absorb))
    try:
        for _ in range(100):
            if len(handled) >= 3:
                break
            await asyncio.sleep(0.05)
        assert handled == [e.event_id for e in events]
    finally:
        await runner.stop()
