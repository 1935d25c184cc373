"""The Postgres work queue (libs.workqueue) against a real PostgreSQL: claims that never overlap, leases
that run out, retries, the dead letter, per-key order, and the worker loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.store.db import create_pool
from libs.testing import SLACK
from libs.workqueue import QueueWorker, WorkQueue
from proto.base import new_id
from proto.subjects import Subjects

TABLE = """CREATE TABLE IF NOT EXISTS jobs (
    id uuid PRIMARY KEY, seq bigserial, key text NOT NULL DEFAULT 'k', state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz, last_error text)"""

QUEUE = WorkQueue("jobs", "w.id::text AS id, w.attempts, w.key")


@pytest.fixture
async def pool(database_url: str, subject_root: str) -> AsyncIterator[asyncpg.Pool]:
    schema = Subjects(subject_root).schema("workqueue")
    pool = await create_pool(database_url, schema, max_size=6)
    await pool.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    await pool.execute(TABLE)
    await pool.execute("TRUNCATE jobs")
    yield pool
    await pool.close()


async def add(pool: asyncpg.Pool, n: int, key: str = "k", delay_s: float = 0.0) -> list[str]:
    ids = [new_id() for _ in range(n)]
    await pool.executemany("INSERT INTO jobs (id, key, next_attempt_at) VALUES ($1, $2,"
                           " now() + make_interval(secs => $3))", [(i, key, delay_s) for i in ids])
    return ids


async def test_concurrent_claims_never_share_a_row(pool: asyncpg.Pool) -> None:
    ids = await add(pool, 40)
    claims = await asyncio.gather(*(QUEUE.claim(pool, 7, 60.0) for _ in range(6)))
    got = [r["id"] for rows in claims for r in rows]
    assert len(got) == len(set(got)) == 40 and set(got) == set(ids)
    assert all(r["attempts"] == 1 for rows in claims for r in rows)
    assert await QUEUE.claim(pool, 10, 60.0) == []  # all leased


async def test_a_lease_that_runs_out_makes_the_row_due_again(pool: asyncpg.Pool) -> None:
    [job] = await add(pool, 1)
    [row] = await QUEUE.claim(pool, 1, 0.2)
    assert await QUEUE.claim(pool, 1, 0.2) == []
    again: list[asyncpg.Record] = []
    for _ in range(100):  # the worker "died": no finish, no retry
        again = await QUEUE.claim(pool, 1, 60.0)
        if again:
            break
        await asyncio.sleep(0.05)
    assert [r["id"] for r in again] == [job] and again[0]["attempts"] == 2 and row["attempts"] == 1


async def test_retry_waits_its_delay_and_finish_is_never_claimed_again(pool: asyncpg.Pool) -> None:
    [a, b] = await add(pool, 2)
    rows = await QUEUE.claim(pool, 2, 60.0)
    assert len(rows) == 2
    await QUEUE.retry(pool, a, 3600.0, last_error="HTTP 500")
    await QUEUE.finish(pool, b, state="failed", last_error="gave up")  # the dead letter
    assert await QUEUE.claim(pool, 2, 60.0) == []
    due = await QUEUE.seconds_until_due(pool)
    assert due is not None and 3500 < due <= 3600
    await QUEUE.retry(pool, a, 0.0)
    [row] = await QUEUE.claim(pool, 2, 60.0)
    assert row["id"] == a and row["attempts"] == 2
    assert await pool.fetchval("SELECT last_error FROM jobs WHERE id = $1", b) == "gave up"


async def test_a_claim_rule_keeps_rows_of_one_key_in_order_with_a_lease_column_of_its_own(
        pool: asyncpg.Pool) -> None:
    ordered = WorkQueue("jobs", "w.id::text AS id, w.attempts", lease_column="claimed_until", count_attempts=False,
                        claimable="NOT EXISTS (SELECT 1 FROM jobs p WHERE p.key = q.key AND p.state = 'pending'"
                                  " AND p.seq < q.seq)")
    first, second = await add(pool, 2, key="m1")
    [other] = await add(pool, 1, key="m2")
    rows = await ordered.claim(pool, 10, 60.0)
    assert {r["id"] for r in rows} == {first, other} and rows[0]["attempts"] == 0
    assert await ordered.claim(pool, 10, 60.0) == []
    due = await ordered.seconds_until_due(pool)
    assert due is not None and due > 50  # leased rows are not due (no busy loop while they are in flight)
    await ordered.finish(pool, first, state="delivered")
    [row] = await ordered.claim(pool, 10, 60.0)
    assert row["id"] == second


async def test_rows_chosen_by_id_are_leased_once_with_a_field_set(pool: asyncpg.Pool) -> None:
    leased = WorkQueue("jobs", "w.id::text AS id, w.last_error", lease_column="claimed_until", count_attempts=False)
    a, b, c = await add(pool, 3)
    await leased.finish(pool, c, state="done")
    rows = await leased.claim_ids(pool, [a, b, c], 60.0, last_error="claim-1")
    assert {r["id"] for r in rows} == {a, b} and {r["last_error"] for r in rows} == {"claim-1"}
    assert await leased.claim_ids(pool, [a, b, c], 60.0) == []  # leased, or not pending


async def test_the_worker_runs_every_row_once_concurrently_and_retries_a_failure(pool: asyncpg.Pool) -> None:
    ids = await add(pool, 30)
    seen: list[str] = []
    running, peak = 0, 0
    all_done = asyncio.Event()

    async def handle(row: asyncpg.Record) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0)
            if row["id"] == ids[0] and row["attempts"] == 1:
                await QUEUE.retry(pool, row["id"], 0.0)
                return
            if row["id"] == ids[1] and row["attempts"] == 1:
                raise RuntimeError("crashed mid-way")  # logged; due again when the lease ends
            seen.append(row["id"])
            await QUEUE.finish(pool, row["id"], state="done")
            if len(seen) == len(ids):
                all_done.set()
        finally:
            running -= 1

    worker = QueueWorker("test", QUEUE, pool, handle, concurrency=4, lease_s=0.5, poll_s=0.1)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(all_done.wait(), 30.0)
    finally:
        await worker.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sorted(seen) == sorted(ids) and peak <= 4
    assert await pool.fetchval("SELECT attempts FROM jobs WHERE id = $1", ids[1]) == 2


async def test_a_notify_wakes_the_worker_before_its_poll(pool: asyncpg.Pool) -> None:
    done = asyncio.Event()

    async def handle(row: asyncpg.Record) -> None:
        await QUEUE.finish(pool, row["id"], state="done")
        done.set()

    worker = QueueWorker("test", QUEUE, pool, handle, concurrency=2, lease_s=30.0, poll_s=60.0, channel="jobs_due")
    task = asyncio.create_task(worker.run())
    try:
        while worker.sleeps == 0 and not task.done():  # the queue was empty: it sleeps for 60 s now
            await asyncio.sleep(0.01)
        await add(pool, 1)
        await pool.execute("SELECT pg_notify('jobs_due', '')")
        await asyncio.wait_for(done.wait(), 10.0)
    finally:
        await worker.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_claim_of_its_own_and_close_lets_work_in_hand_finish(pool: asyncpg.Pool) -> None:
    ids = await add(pool, 3)
    claims: list[int] = []
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def claim_one(conn: asyncpg.Pool | asyncpg.Connection, free: int) -> list[asyncpg.Record]:
        claims.append(free)
        return await QUEUE.claim(conn, 1, 30.0)  # its own rule: one at a time

    async def handle(row: asyncpg.Record) -> None:
        started.set()
        await release.wait()
        await QUEUE.finish(pool, row["id"], state="done")
        finished.append(row["id"])

    worker = QueueWorker("test", QUEUE, pool, handle, concurrency=4, lease_s=30.0, poll_s=0.1, claim=claim_one)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10.0)
    closing = asyncio.create_task(worker.close(grace_s=10.0))
    release.set()
    await asyncio.wait_for(closing, 15.0 * SLACK)
    await asyncio.wait_for(task, 10.0 * SLACK)
    assert claims and all(n >= 1 for n in claims)
    assert finished and set(finished) <= set(ids)  # what was in hand finished, not cancelled
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE state = 'done'") == len(finished)


async def test_offered_rows_are_claimed_by_id_without_a_scan(pool: asyncpg.Pool) -> None:
    """Rows a producer offers are leased by id, more than the free slots included, with no scan for due
    rows; a scan comes when something calls for one (here ``wake``; NOTIFY, the poll, the next due time)."""
    handled: list[str] = []
    progress = asyncio.Event()

    async def handle(row: asyncpg.Record) -> None:
        await QUEUE.finish(pool, row["id"], state="done")
        handled.append(row["id"])
        progress.set()

    async def until(n: int) -> None:
        async with asyncio.timeout(10.0 * SLACK):
            while len(handled) < n:
                progress.clear()
                await progress.wait()

    async def claim_ids(conn: asyncpg.Pool | asyncpg.Connection, ids: list[str], free: int) -> list[asyncpg.Record]:
        assert len(ids) <= free
        return await QUEUE.claim_ids(conn, ids, 30.0)

    worker = QueueWorker("test", QUEUE, pool, handle, concurrency=2, lease_s=30.0, poll_s=3600.0,
                         claim_ids=claim_ids)
    task = asyncio.create_task(worker.run())
    try:
        while worker.sleeps == 0 and not task.done():  # the start's scan found nothing: asleep for an hour
            await asyncio.sleep(0.01)
        assert worker.scans == 1
        offered = await add(pool, 5)
        worker.offer(offered)  # five for two slots
        await until(5)
        assert sorted(handled) == sorted(offered) and worker.scans == 1
        [other] = await add(pool, 1)
        worker.wake()
        await until(6)
        assert handled[-1] == other and worker.scans == 2
    finally:
        await worker.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
