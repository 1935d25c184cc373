"""The relay never sleeps on a committed event: a commit that lands while it is publishing an earlier
round still wakes it (a wake-up lost there left the event for the periodic sweep: the ~0.5 s tail)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from libs.bus.conn import ensure_stream
from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from libs.store.relay import Relay
from proto.base import new_id
from proto.events.accounts import CreditGranted
from proto.subjects import StreamSpec, Subjects


@pytest.fixture
async def env(nats_url: str, database_url: str, subject_root: str) -> AsyncIterator[tuple[EventStore, Client]]:
    subjects = Subjects(subject_root)
    pool = await create_pool(database_url, subjects.schema("accounts"))
    await migrate(pool, subjects.schema("accounts"), None)
    nc = await nats.connect(nats_url)
    await ensure_stream(nc, subjects, StreamSpec("accounts"))
    yield EventStore(pool, subjects.schema("accounts"), subjects, "accounts"), nc
    await nc.close()
    await pool.close()


async def test_commits_during_a_publish_round_are_published_without_the_sweep(
        env: tuple[EventStore, Client]) -> None:
    store, nc = env
    relay = Relay(store.pool, nc, store.schema, "accounts", sweep_interval=60)
    relay.start()
    js = nc.jetstream()
    stream = store.subjects.stream_name("accounts")
    org = "00000000-0000-0000-0000-000000000001"

    async def append(i: int, k: int) -> None:
        await asyncio.sleep(random.random() * 0.01)  # commits spread over the relay's rounds
        async with store.transaction() as conn:
            await store.append(conn, f"credit-{i}-{k}", 0, [CreditGranted(
                org_id=org, entry_id=new_id(), amount_micros=1, reason="test")])

    try:
        published = 0
        for i in range(30):
            await asyncio.gather(*(append(i, k) for k in range(8)))
            published += 8
            deadline = time.monotonic() + 10  # far below the 60 s sweep, far above a busy machine's round
            while (await js.stream_info(stream)).state.messages < published:
                assert time.monotonic() < deadline, f"round {i}: committed events waited for the sweep"
                await asyncio.sleep(0.02)
    finally:
        await relay.stop()
