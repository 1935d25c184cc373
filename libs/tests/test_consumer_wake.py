"""A consumer idling in a long fetch hands a new message over when it arrives, not when the fetch ends;
and a fetch that runs out of time is no failure (nats-py raises asyncio's TimeoutError for some of them,
which the consumer once took for an error and slept 0.5 s on)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.bus.conn import ensure_stream
from libs.bus.consumer import ConsumerRunner, ConsumerSpec
from libs.testing import SLACK
from proto.base import Event, new_id
from proto.events import encode_event
from proto.events.accounts import CreditGranted
from proto.subjects import StreamSpec, Subjects

ORG = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
async def nc(nats_url: str, subject_root: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    await ensure_stream(client, Subjects(subject_root), StreamSpec("accounts"))
    yield client
    await client.close()


async def _publish(nc: Client, subjects: Subjects) -> float:
    ev = CreditGranted(org_id=ORG, entry_id=new_id(), amount_micros=1, reason="test")
    await nc.jetstream().publish(subjects.event("accounts", "credit", "credit_granted", ORG), encode_event(ev))
    return time.monotonic()


async def test_a_message_is_handled_when_it_arrives_not_when_the_fetch_ends(nc: Client, subject_root: str) -> None:
    subjects = Subjects(subject_root)
    handled = asyncio.Queue[float]()

    async def handler(_: Event) -> None:
        await handled.put(time.monotonic())

    runner = ConsumerRunner(nc, subjects, None, ConsumerSpec(
        "test-wake", (CreditGranted,), handler, batch=64, fetch_timeout_s=30.0))
    await runner.start()
    try:
        for _ in range(3):
            await asyncio.sleep(0.5)  # the consumer is waiting in its 30 s fetch
            sent = await _publish(nc, subjects)
            got = await asyncio.wait_for(handled.get(), 20)
            assert got - sent < 10, "the message waited for the fetch's batch to fill or its time to run out"
    finally:
        await runner.stop()


async def test_a_fetch_that_runs_out_of_time_is_no_failure(nc: Client, subject_root: str) -> None:
    """nats-py's fetch raises asyncio's TimeoutError (not its own) when its deadline passes between two
    steps of a fetch, as it does often with short fetches on a busy machine: twenty of those in a row
    must not hold the waiting message (taken for failures, they cost 0.5 s each: 10 s)."""
    subjects = Subjects(subject_root)
    handled = asyncio.Queue[float]()

    async def handler(_: Event) -> None:
        await handled.put(time.monotonic())

    runner = ConsumerRunner(nc, subjects, None, ConsumerSpec("test-short", (CreditGranted,), handler))
    sent = await _publish(nc, subjects)
    await runner.start()
    fetch = runner._sub.fetch
    ran_out = 0

    async def fetch_running_out(*args: Any, **kwargs: Any) -> list[Msg]:
        nonlocal ran_out
        if ran_out < 20:
            ran_out += 1
            raise TimeoutError  # asyncio's, as nats-py's _fetch_n raises it
        return await fetch(*args, **kwargs)

    runner._sub.fetch = fetch_running_out  # type: ignore[method-assign]
    try:
        got = await asyncio.wait_for(handled.get(), 30)
        assert ran_out == 20
        assert got - sent < 5, f"handled {got - sent:.1f} s after it was published"
    finally:
        await runner.stop()


async def idle_in_fetch(runner: ConsumerRunner) -> None:
    """Until the runner waits in a fetch with nothing in hand (a condition, not a time)."""
    async with asyncio.timeout(30 * SLACK):
        while not (runner._fetching and all(t.done() for t in runner._inflight)):
            await asyncio.sleep(0.01)


async def test_a_stop_cuts_a_waiting_fetch_short_and_the_next_consumer_gets_the_next_message(
        nc: Client, subject_root: str) -> None:
    """A consumer idling in a long fetch stops at once (a service's SIGTERM, a test's teardown), not when
    its fetch runs out of time; and the fetch it cut leaves no pull request behind that would take the
    next message to a subscription nobody reads (it would come back only after ack_wait)."""
    subjects = Subjects(subject_root)
    handled = asyncio.Queue[float]()

    async def handler(_: Event) -> None:
        await handled.put(time.monotonic())

    def runner() -> ConsumerRunner:
        return ConsumerRunner(nc, subjects, None, ConsumerSpec(
            "test-cut", (CreditGranted,), handler, fetch_timeout_s=120.0, ack_wait_s=120.0))

    first = runner()
    await first.start()
    await idle_in_fetch(first)  # (waiting in its 120 s fetch)
    began = time.monotonic()
    await first.stop()
    assert time.monotonic() - began < 4, "the stop waited for the fetch (5 s, then it cut it)"
    second = runner()
    await second.start()
    try:
        await _publish(nc, subjects)
        await asyncio.wait_for(handled.get(), 60)
    finally:
        await second.stop()


async def test_a_pipelined_consumer_whose_batches_are_settled_stops_at_once(nc: Client, subject_root: str) -> None:
    """With batches pipelined, a batch already handled does not count as work in hand: idle again, the
    consumer's stop cuts its fetch short as an unpipelined one's does."""
    subjects = Subjects(subject_root)
    absorbed = asyncio.Queue[int]()

    async def handler(_: Event) -> None:
        raise AssertionError("every event goes through absorb")

    async def absorb(events: list[Event]) -> set[str]:
        await absorbed.put(len(events))
        return {e.event_id for e in events}

    runner = ConsumerRunner(nc, subjects, None, ConsumerSpec(
        "test-cut-pipelined", (CreditGranted,), handler, fetch_timeout_s=120.0, absorb=absorb, pipeline=2))
    await runner.start()
    await _publish(nc, subjects)
    assert await asyncio.wait_for(absorbed.get(), 60) == 1
    await idle_in_fetch(runner)  # (its batch settled, it waits in its next 120 s fetch)
    began = time.monotonic()
    await runner.stop()
    assert time.monotonic() - began < 4, "the stop waited for the fetch (5 s, then it cut it)"
