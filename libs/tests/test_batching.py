"""Group commit: each caller gets its own item's result, batches gather while one is in flight, a
failed flush fails exactly its batch, and stop fails whoever still waits."""

from __future__ import annotations

import asyncio

import pytest

from libs.runtime.batching import Batcher, Coalescer


async def test_each_caller_gets_its_result_and_batches_gather_while_one_is_in_flight() -> None:
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        if len(batches) == 1:
            await gate.wait()  # the first batch is in flight while the others arrive
        return [i * 10 for i in items]

    b: Batcher[int, int] = Batcher("test", flush, max_batch=100, workers=1)
    first = asyncio.create_task(b.submit(1))
    await asyncio.sleep(0.01)
    rest = [asyncio.create_task(b.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == 10
    assert [await t for t in rest] == [20, 30, 40, 50, 60]
    assert batches == [[1], [2, 3, 4, 5, 6]]
    await b.stop()


async def test_a_failed_flush_fails_its_batch_only_and_max_batch_holds() -> None:
    async def flush(items: list[int]) -> list[int]:
        if 3 in items:
            raise RuntimeError("database down")
        return items

    b: Batcher[int, int] = Batcher("test", flush, max_batch=2, workers=1)
    tasks = [asyncio.create_task(b.submit(i)) for i in range(1, 6)]  # batches [1, 2], [3, 4], [5]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == 1 and results[1] == 2 and results[4] == 5
    assert isinstance(results[2], RuntimeError) and isinstance(results[3], RuntimeError)
    await b.stop()


async def test_stop_fails_the_callers_still_waiting() -> None:
    async def flush(items: list[int]) -> list[int]:
        await asyncio.sleep(10)
        return items

    b: Batcher[int, int] = Batcher("test", flush, workers=1)
    waiting = asyncio.create_task(b.submit(1))
    await asyncio.sleep(0.01)
    await b.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        await waiting


async def test_coalescer_sends_what_one_pass_queued_as_one_batch_without_waiting_for_the_last() -> None:
    batches: list[list[int]] = []
    release: dict[int, asyncio.Event] = {}

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        gate = release.setdefault(items[0], asyncio.Event())
        await gate.wait()
        return [i * 10 for i in items]

    c: Coalescer[int, int] = Coalescer("test", flush, max_batch=3)
    first = [asyncio.create_task(c.submit(i)) for i in range(1, 6)]  # one pass: [1, 2, 3] and [4, 5]
    while len(batches) < 2:
        await asyncio.sleep(0)
    later = asyncio.create_task(c.submit(9))  # its own batch at once, though the first two are still out
    while len(batches) < 3:
        await asyncio.sleep(0)
    assert batches == [[1, 2, 3], [4, 5], [9]]
    release.setdefault(9, asyncio.Event()).set()
    assert await later == 90 and not any(t.done() for t in first)  # a slow batch holds up only its own
    for k in (1, 4):
        release[k].set()
    assert [await t for t in first] == [10, 20, 30, 40, 50]
    await c.stop()


async def test_coalescer_a_failed_flush_fails_its_batch_and_stop_fails_the_rest() -> None:
    stuck, started = asyncio.Event(), asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        if 1 in items:
            raise RuntimeError("no answer")
        started.set()
        await stuck.wait()
        return items

    c: Coalescer[int, int] = Coalescer("test", flush)
    with pytest.raises(RuntimeError, match="no answer"):
        await c.submit(1)
    waiting = asyncio.create_task(c.submit(2))
    await started.wait()
    await c.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        await waiting
