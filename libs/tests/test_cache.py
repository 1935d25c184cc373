"""The TTL cache with event eviction (libs.cache): pure rules on a stand-in clock, and eviction by a
real NATS subscription."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.msg import Msg

from libs.cache import TtlCache, evict_on
from libs.testing.clock import Clock


def test_an_entry_lives_its_ttl_then_misses() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(10.0, clock=clock)
    cache.put("a", 1)
    clock.now += 9.9
    assert cache.get("a") == 1
    clock.now += 0.2
    assert cache.get("a") is None and len(cache) == 0


def test_an_own_ttl_is_never_longer_than_the_caches_and_zero_keeps_nothing() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(10.0, clock=clock)
    cache.put("short", 1, ttl_s=2.0)
    cache.put("long", 2, ttl_s=50.0)
    clock.now += 5
    assert cache.get("short") is None and cache.get("long") == 2
    off: TtlCache[str, int] = TtlCache(0.0)
    off.put("a", 1)
    assert off.get("a") is None


def test_a_hand_off_is_taken_once_and_only_while_fresh() -> None:
    clock = Clock()
    handoff: TtlCache[str, int] = TtlCache(2.0, clock=clock)
    handoff.put("m1", 1)
    assert handoff.take("m1") == 1 and handoff.take("m1") is None
    handoff.put("m2", 2)
    clock.now += 2.5
    assert handoff.take("m2") is None and len(handoff) == 0


def test_full_drops_the_oldest_half() -> None:
    cache: TtlCache[int, int] = TtlCache(60.0, max_entries=10)
    for i in range(11):
        cache.put(i, i)
    assert len(cache) == 6
    assert cache.get(0) is None and cache.get(4) is None and cache.get(5) == 5 and cache.get(10) == 10


def test_evicting_a_group_forgets_its_keys_only() -> None:
    cache: TtlCache[tuple[str, str], int] = TtlCache(60.0, group=lambda k: k[0])
    cache.put(("org1", "+1"), 1)
    cache.put(("org1", "+2"), 2)
    cache.put(("org2", "+1"), 3)
    cache.evict_group("org1")
    assert cache.get(("org1", "+1")) is None and cache.get(("org1", "+2")) is None
    assert cache.get(("org2", "+1")) == 3


def test_evict_where_forgets_matching_values() -> None:
    cache: TtlCache[str, str] = TtlCache(60.0)
    cache.put("h1", "key-a")
    cache.put("h2", "key-b")
    cache.put("h3", "key-a")
    assert cache.evict_where(lambda v: v == "key-a") == 2
    assert cache.get("h2") == "key-b" and cache.get("h1") is None


async def test_a_load_under_way_when_values_are_evicted_by_content_is_not_kept() -> None:
    cache: TtlCache[str, str] = TtlCache(60.0)
    gate = asyncio.Event()

    async def fetch() -> str:
        await gate.wait()
        return "key-a"  # answered before the revocation, arriving after it

    load = asyncio.create_task(cache.load("h1", fetch))
    await asyncio.sleep(0)
    cache.evict_where(lambda v: v == "key-a")
    gate.set()
    assert await load == "key-a"
    assert cache.get("h1") is None


def test_an_answer_asked_before_an_eviction_is_not_kept() -> None:
    cache: TtlCache[tuple[str, str], int] = TtlCache(60.0, group=lambda k: k[0])
    ticket = cache.generation(("org1", "+1"))
    other = cache.generation(("org2", "+1"))
    cache.evict_group("org1")  # the event arrives while the answer is on its way
    assert not cache.put_if_current(("org1", "+1"), 1, ticket)
    assert cache.get(("org1", "+1")) is None
    assert cache.put_if_current(("org2", "+1"), 2, other)  # another group's answer is kept


def test_a_ticket_taken_before_the_generations_were_forgotten_is_stale() -> None:
    cache: TtlCache[int, int] = TtlCache(60.0, max_entries=2)
    ticket = cache.generation(1)
    for key in range(10):  # more evictions than the table of generations holds
        cache.evict(key)
    assert not cache.put_if_current(1, 1, ticket)
    cache.clear()
    assert not cache.put_if_current(1, 1, cache.generation(1) - 1)


async def test_concurrent_loads_of_one_key_share_one_fetch_and_refusals_are_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(60.0)
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    loads = [asyncio.create_task(cache.load("k", fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*loads) == [7] * 5
    assert calls == 1 and cache.get("k") == 7

    assert await cache.load("no", fetch, keep=lambda v: v > 10) == 7
    assert cache.get("no") is None


async def test_a_failed_fetch_reaches_every_waiter_and_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(60.0)
    gate = asyncio.Event()

    async def fetch() -> int:
        await gate.wait()
        raise RuntimeError("numbers unavailable")

    loads = [asyncio.create_task(cache.load("k", fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*loads, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert cache.get("k") is None


async def test_an_event_on_the_bus_evicts_and_a_failing_eviction_does_not_stop_the_next(
        nats_url: str, subject_root: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        cache: TtlCache[tuple[str, str], int] = TtlCache(60.0, group=lambda k: k[0])
        cache.put(("org1", "+1"), 1)
        cache.put(("org2", "+1"), 2)

        def evict(msg: Msg) -> None:
            org = msg.subject.rpartition(".")[2]
            if org == "bad":
                raise ValueError("undecodable")
            cache.evict_group(org)
            evicted.set()

        evicted = asyncio.Event()
        sub = await evict_on(nc, f"{subject_root}.numbers.>", evict)
        await nc.publish(f"{subject_root}.numbers.phone_number.configured.bad", b"")
        await nc.publish(f"{subject_root}.numbers.phone_number.configured.org1", b"")
        await nc.flush()
        await asyncio.wait_for(evicted.wait(), 10.0)  # (the bad one raised before setting it)
        await sub.unsubscribe()
        assert cache.get(("org1", "+1")) is None
        assert cache.get(("org2", "+1")) == 2
    finally:
        await nc.close()


def test_evicting_a_key_of_an_ungrouped_cache_leaves_other_keys_loads_alone() -> None:
    cache: TtlCache[str, int] = TtlCache(1.0)
    ticket = cache.generation("b")
    cache.evict("a")
    assert cache.put_if_current("b", 2, ticket)
