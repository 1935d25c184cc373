"""Event store, outbox relay and consumers against real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client

from libs.bus.conn import ensure_stream
from libs.bus.consumer import ConsumerRunner, ConsumerSpec, Permanent
from libs.store import Write, sql, table
from libs.store.db import create_pool, migrate
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.store.processed import claim
from libs.store.relay import Relay
from libs.testing import SLACK
from libs.testing.statements import Statements, counted_pool
from proto.base import Event, new_id
from proto.events.accounts import CreditGranted
from proto.events.outbound import MessageDelivered
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
    await pool.execute("CREATE TABLE IF NOT EXISTS wallets (id text PRIMARY KEY, n int NOT NULL)")
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
    # the crash: published to NATS, still in the outbox (the round after would have deleted it)
    assert await env.store.pool.fetchval("SELECT count(*) FROM outbox") == 1
    restarted = Relay(env.store.pool, env.nc, env.store.schema, "accounts")
    assert await restarted.publish_pending() == 1  # re-published...
    assert await stream_count(env) == 1  # ...and de-duplicated by Nats-Msg-Id
    assert await restarted.publish_pending() == 0  # (this round deleted it)
    assert await env.store.pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_relay_round_deletes_the_last_rounds_events_in_the_statement_that_reads_its_own(
        env: Env, one_conn: tuple[EventStore, Statements]) -> None:
    store, queries = one_conn
    relay = Relay(store.pool, env.nc, store.schema, "accounts")
    await relay.flush()  # (what the fixture wrote)
    before = await stream_count(env)
    await store.write(Write().append(f"credit-{new_id()}", 0, [grant(), grant()]))
    queries.clear()
    assert await relay.publish_pending() == 2
    await store.write(Write().append(f"credit-{new_id()}", 0, [grant()]))
    assert await relay.publish_pending() == 1  # the two published before leave the outbox with this read
    assert [q for q in queries.texts if "outbox" in q and "INSERT" not in q] == [queries.texts[0]] * 2
    assert await store.pool.fetchval("SELECT count(*) FROM outbox") == 1
    await relay.flush()
    assert await store.pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await stream_count(env) == before + 3


async def test_a_leading_relay_empties_the_outbox_soon_after_its_last_round(env: Env) -> None:
    relay = Relay(env.store.pool, env.nc, env.store.schema, "accounts", sweep_interval=30)
    relay.start()
    try:
        await env.store.write(Write().append(f"credit-{new_id()}", 0, [grant()]))
        async with asyncio.timeout(10 * SLACK):  # (DELETE_WITHIN_S, 20 ms, when idle: long before the 30 s sweep)
            while await stream_count(env) < 1 or await env.store.pool.fetchval("SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.02)
    finally:
        await relay.stop()


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


# -- the write API -------------------------------------------------------------------------------------------

async def warm(store: EventStore, statements: Statements) -> None:
    """asyncpg's first look at each type the writes use, out of the count."""
    await store.write(Write().append(f"warm-{new_id()}", 0, [grant()]).returning(sql("SELECT 1")))
    await store.pool.execute("INSERT INTO wallets VALUES ($1, 0)", new_id())
    await store.pool.fetch("SELECT * FROM unnest($1::text[], $2::int[])", ["a"], [1])
    statements.clear()


@pytest.fixture
async def one_conn(env: Env, database_url: str) -> AsyncIterator[tuple[EventStore, Statements]]:
    """A store whose pool is one connection, its statements counted."""
    async with counted_pool(database_url, env.store.schema) as (pool, statements):
        store = EventStore(pool, env.store.schema, env.subjects, "accounts")
        await warm(store, statements)
        yield store, statements


async def versions(env: Env, *streams: str) -> dict[str, int]:
    rows = await env.store.pool.fetch("SELECT stream_id, max(version) AS v FROM events WHERE stream_id = ANY($1)"
                                      " GROUP BY stream_id", list(streams))
    return {r["stream_id"]: r["v"] for r in rows}


async def test_a_write_to_many_streams_with_its_projection_is_one_statement(
        env: Env, one_conn: tuple[EventStore, Statements]) -> None:
    store, queries = one_conn
    a, b = f"credit-{new_id()}", f"credit-{new_id()}"
    w = (Write()
         .append(a, 0, [grant(), grant()])
         .append(b, 0, [grant()])
         .project(sql("INSERT INTO wallets (id, n) SELECT id, n FROM :rows RETURNING id, n",
                      rows=table("v", {"id": "text", "n": "int"}, [(a, 2), (b, 1)])), name="ins")
         .returning(sql("SELECT id, n FROM ins ORDER BY id")))
    rows = await store.write(w)
    assert len(queries) == 1  # one round trip: the projection, the events, the wake-up
    assert sorted((r["id"], r["n"]) for r in rows) == sorted([(a, 2), (b, 1)])
    assert await versions(env, a, b) == {a: 2, b: 1}
    assert await env.store.pool.fetchval("SELECT count(*) FROM outbox o JOIN events e USING (position)"
                                         " WHERE e.stream_id = ANY($1)", [a, b]) == 3  # all to be relayed


async def test_a_stream_past_its_version_fails_the_whole_write(env: Env) -> None:
    a, b = f"credit-{new_id()}", f"credit-{new_id()}"
    await env.store.write(Write().append(b, 0, [grant()]))
    w = (Write().append(a, 0, [grant()]).append(b, 0, [grant()])
         .project(sql("INSERT INTO wallets (id, n) VALUES (:id, 1)", id=a)))
    with pytest.raises(ConcurrencyError) as err:
        await env.store.write(w)
    assert err.value.stream_id == b and err.value.expected == 0
    assert await versions(env, a, b) == {b: 1}  # nothing of it was written: not a's event...
    assert await env.store.pool.fetchval("SELECT count(*) FROM wallets WHERE id = $1", a) == 0  # ...nor its row
    with pytest.raises(ConcurrencyError):  # in the caller's transaction too, which then rolls back
        async with env.store.transaction() as conn:
            await env.store.write(Write().append(b, 0, [grant()]), conn)
    async with env.store.transaction() as conn:
        _, version = await env.store.load(conn, b)
        await env.store.write(Write().append(b, version, [grant()]), conn)
    assert await versions(env, b) == {b: 2}


async def test_events_only_where_the_change_happened(env: Env, one_conn: tuple[EventStore, Statements]) -> None:
    """The credit hold's shape: a conditional UPDATE, the rows that follow from it, and the event only
    when it took — one statement."""
    store, queries = one_conn
    wallet = new_id()
    await env.store.pool.execute("INSERT INTO wallets (id, n) VALUES ($1, 5)", wallet)

    def hold(amount: int, stream: str) -> Write:
        return (Write()
                .project(sql("UPDATE wallets SET n = n - :amount WHERE id = :id AND n >= :amount RETURNING n",
                             amount=amount, id=wallet), name="bal")
                .append(stream, 0, [grant()])
                .only_where(sql("EXISTS (SELECT 1 FROM bal)"))
                .returning(sql("SELECT (SELECT n FROM bal) AS balance")))

    first, second = f"reservation-{new_id()}", f"reservation-{new_id()}"
    rows = await store.write(hold(4, first))
    assert rows[0]["balance"] == 1 and rows[0]["am_appended"] == 1
    rows = await store.write(hold(4, second))  # short of credit: no change, no event
    assert rows[0]["balance"] is None and rows[0]["am_appended"] == 0
    assert len(queries) == 2
    assert await versions(env, first, second) == {first: 1}


async def test_an_append_at_the_head_takes_the_next_versions(env: Env) -> None:
    a, b = f"submission-{new_id()}", f"submission-{new_id()}"
    await env.store.write(Write().append(a, 0, [grant(), grant()]))
    rows = await env.store.write(Write().append(a, None, [grant(), grant()]).append(b, None, [grant()]))
    assert rows[0]["am_appended"] == 3
    assert await versions(env, a, b) == {a: 4, b: 1}


class FakeLeader:
    """This process's relay, leading: writes wake it and send no NOTIFY."""

    def __init__(self) -> None:
        self.woken = 0

    def leads(self) -> bool:
        return True

    def wake(self) -> None:
        self.woken += 1


async def test_the_injected_waker_is_woken_at_commit_instead_of_a_notify(env: Env, database_url: str) -> None:
    leader = FakeLeader()
    store = EventStore(env.store.pool, env.store.schema, env.subjects, "accounts", waker=leader)
    heard = asyncio.Event()
    listener = await create_pool(database_url, env.store.schema, max_size=1)
    def on_notify(*_: object) -> None:
        heard.set()

    async with listener.acquire() as conn:
        conn.hold_session_state()
        await conn.add_listener(store.channel, on_notify)
        await store.write(Write().append(f"credit-{new_id()}", 0, [grant()]))
        assert leader.woken == 1
        async with store.transaction() as tx:
            await store.write(Write().append(f"credit-{new_id()}", 0, [grant()]), tx)
            assert leader.woken == 1  # not before the commit
        assert leader.woken == 2
        await env.store.write(Write().append(f"credit-{new_id()}", 0, [grant()]))  # no waker: a NOTIFY
        await asyncio.wait_for(heard.wait(), 5)
        heard.clear()
        await store.write(Write().append(f"credit-{new_id()}", 0, [grant()]))
        await conn.execute("SELECT 1")  # a round trip: a NOTIFY sent before it would have arrived by now
        assert not heard.is_set()
        await conn.remove_listener(store.channel, on_notify)
    await listener.close()


async def test_a_projections_own_key_taken_is_the_callers_not_a_concurrency_error(env: Env) -> None:
    import asyncpg

    wallet, stream = new_id(), f"reservation-{new_id()}"
    await env.store.pool.execute("INSERT INTO wallets (id, n) VALUES ($1, 1)", wallet)
    w = Write().project(sql("INSERT INTO wallets (id, n) VALUES (:id, 1)", id=wallet)).append(stream, 0, [grant()])
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await env.store.write(w)
    assert not isinstance(err.value.__cause__, ConcurrencyError) and not isinstance(err.value, ConcurrencyError)
    assert await versions(env, stream) == {}  # and nothing of the write stays


async def test_an_event_stored_in_an_older_shape_loads_in_the_current_one(env: Env) -> None:
    # given a MessageDelivered written when times were text and "" meant no time
    org, stream = "00000000-0000-0000-0000-000000000001", f"message-{new_id()}"
    old = (f'{{"type":"MessageDelivered","org_id":"{org}","event_id":"{new_id()}",'
           '"occurred_at":"2026-06-11T12:01:00.123Z","correlation_id":null,"causation_id":null,'
           '"message_id":"m1","carrier_message_id":"c1","receipt_status":"DELIVRD","delivered_at":""}')
    await env.store.pool.execute(
        "INSERT INTO events (stream_id, version, event_id, event_type, subject, org_id, data, headers)"
        " VALUES ($1, 1, $2::uuid, 'MessageDelivered', 'am.outbound.message.message_delivered.x', $3, $4::json,"
        " '{}'::json)", stream, new_id(), org, old)
    # when the stream is loaded
    async with env.store.transaction() as conn:
        events, version = await env.store.load(conn, stream)
    # then it is the current struct: the time it had, and None for the one it had not
    (ev,) = events
    assert isinstance(ev, MessageDelivered) and version == 1
    assert ev.delivered_at is None and ev.occurred_at == datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC)
