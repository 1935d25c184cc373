"""A consumer names the event classes it takes: its stream and filter follow from them, and an event of
another class that still reaches it is acknowledged without reaching the handler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client

from libs.bus.conn import ensure_stream
from libs.bus.consumer import ConsumerRunner, ConsumerSpec
from proto.base import Event, new_id
from proto.events import encode_event
from proto.events.accounts import CreditGranted, CreditReserved
from proto.events.outbound import MessageDelivered, MessageSent
from proto.subjects import StreamSpec, Subjects


async def _ignore(ev: Event) -> None:
    return None


def test_the_stream_and_filters_follow_from_the_event_classes() -> None:
    spec = ConsumerSpec("test-credit", (CreditGranted, CreditReserved), _ignore)
    assert spec.domain == "accounts"
    assert spec.filters(Subjects("am")) == ["am.accounts.credit.credit_granted.*",
                                            "am.accounts.credit.credit_reserved.*"]
    with pytest.raises(ValueError, match="one domain"):
        ConsumerSpec("test-mixed", (CreditGranted, MessageSent), _ignore)
    with pytest.raises(ValueError):
        ConsumerSpec("test-none", (), _ignore)


@contextlib.asynccontextmanager
async def consuming(nats_url: str, subject_root: str, durable: str, events: tuple[type[Event], ...]
                    ) -> AsyncIterator[tuple[Client, Subjects, asyncio.Queue[Event]]]:
    """A running consumer of ``events`` whose handler queues what it gets."""
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    await ensure_stream(nc, subjects, StreamSpec(events[0].DOMAIN))
    handled = asyncio.Queue[Event]()

    async def handler(ev: Event) -> None:
        await handled.put(ev)

    runner = ConsumerRunner(nc, subjects, None, ConsumerSpec(durable, events, handler))
    await runner.start()
    try:
        yield nc, subjects, handled
    finally:
        await runner.stop()
        await nc.close()


async def test_an_event_of_another_class_is_acknowledged_unhandled(nats_url: str, subject_root: str) -> None:
    async with consuming(nats_url, subject_root, "test-takes", (CreditGranted,)) as (nc, subjects, handled):
        org = "00000000-0000-0000-0000-000000000003"
        js = nc.jetstream()
        stray = CreditReserved(org_id=org, reservation_id=new_id(), amount_micros=1, reason="stray")
        await js.publish(subjects.of(CreditGranted, org), encode_event(stray))  # on the wrong subject
        granted = CreditGranted(org_id=org, entry_id=new_id(), amount_micros=1, reason="test")
        await js.publish(subjects.of(CreditGranted, org), encode_event(granted))
        got = await asyncio.wait_for(handled.get(), 30)
        assert got == granted and handled.empty()
        info = None
        for _ in range(300):
            info = await js.consumer_info(subjects.stream_name("accounts"), "test-takes")
            if info.ack_floor.stream_seq == 2:
                break
            await asyncio.sleep(0.05)
        assert info is not None and info.ack_floor.stream_seq == 2 and info.num_ack_pending == 0
        assert handled.empty()


async def test_an_event_published_in_an_older_shape_reaches_the_handler_in_the_current_one(
        nats_url: str, subject_root: str) -> None:
    # given a MessageDelivered on the stream as it was written when "" meant no time
    async with consuming(nats_url, subject_root, "test-old-shape", (MessageDelivered,)) as (nc, subjects, handled):
        org = "00000000-0000-0000-0000-000000000004"
        old = (f'{{"type":"MessageDelivered","org_id":"{org}","event_id":"{new_id()}",'
               '"occurred_at":"2026-06-11T12:01:00.123Z","correlation_id":null,"causation_id":null,'
               '"message_id":"m1","carrier_message_id":"c1","receipt_status":"DELIVRD","delivered_at":""}')
        await nc.jetstream().publish(subjects.of(MessageDelivered, org), old.encode())
        # when the consumer takes it, then its handler gets the current struct
        got = await asyncio.wait_for(handled.get(), 30)
        assert isinstance(got, MessageDelivered) and got.delivered_at is None and got.message_id == "m1"
        assert got.occurred_at == datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC)


async def test_a_pipelined_consumer_takes_the_next_batch_while_one_is_at_work(nats_url: str,
                                                                              subject_root: str) -> None:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    await ensure_stream(nc, subjects, StreamSpec("accounts"))
    org = "00000000-0000-0000-0000-000000000004"
    sent = [CreditGranted(org_id=org, entry_id=new_id(), amount_micros=i, reason="test") for i in range(6)]
    js = nc.jetstream()
    for ev in sent:  # all there before the consumer starts: it fetches whole batches of two
        await js.publish(subjects.of(CreditGranted, org), encode_event(ev))
    calls: list[list[Event]] = []
    second = asyncio.Event()
    overlapped: list[bool] = []

    async def absorb(evs: list[Event]) -> set[str]:
        calls.append(evs)
        if len(calls) == 1:  # the first batch is at work until the next batch reaches us (or 20 s pass)
            try:
                await asyncio.wait_for(second.wait(), 20)
                overlapped.append(True)
            except TimeoutError:
                overlapped.append(False)
        else:
            second.set()
        return {e.event_id for e in evs}

    runner = ConsumerRunner(nc, subjects, None, ConsumerSpec("test-pipeline", (CreditGranted,), _ignore,
                                                             absorb=absorb, batch=2, pipeline=2))
    await runner.start()
    try:
        info = None
        for _ in range(600):
            info = await js.consumer_info(subjects.stream_name("accounts"), "test-pipeline")
            if info.ack_floor.stream_seq == len(sent):
                break
            await asyncio.sleep(0.05)
        # then: the second batch was taken while the first was at work; every event once, in stream order
        assert overlapped == [True]
        assert [e for evs in calls for e in evs] == sent
        assert info is not None and info.ack_floor.stream_seq == len(sent) and info.num_ack_pending == 0
    finally:
        await runner.stop()
        await nc.close()


async def test_a_consumer_with_a_bulk_path_takes_a_lone_message_through_it(nats_url: str, subject_root: str) -> None:
    """One statement for one message too (the bulk path's), not the handler's transaction of several."""
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    await ensure_stream(nc, subjects, StreamSpec("accounts"))
    org = "00000000-0000-0000-0000-000000000005"
    absorbed: list[list[Event]] = []
    handled: list[Event] = []

    async def absorb(evs: list[Event]) -> set[str]:
        absorbed.append(evs)
        return {e.event_id for e in evs}

    async def handler(ev: Event) -> None:
        handled.append(ev)

    runner = ConsumerRunner(nc, subjects, None, ConsumerSpec("test-lone", (CreditGranted,), handler, absorb=absorb))
    await runner.start()
    try:
        js = nc.jetstream()
        ev = CreditGranted(org_id=org, entry_id=new_id(), amount_micros=1, reason="test")
        await js.publish(subjects.of(CreditGranted, org), encode_event(ev))
        for _ in range(600):
            info = await js.consumer_info(subjects.stream_name("accounts"), "test-lone")
            if info.ack_floor.stream_seq >= 1:
                break
            await asyncio.sleep(0.05)
        assert absorbed == [[ev]] and handled == []
    finally:
        await runner.stop()
        await nc.close()
