"""The simulator's fixtures: a callback receiver, and a simulator that calls it back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.carrier_sim.tests.simkit import Client, Receiver, config, running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.server.start_server()
    yield rec
    await rec.server.close()


@pytest.fixture
async def sim(receiver: Receiver) -> AsyncIterator[Client]:
    async with running(config(receiver)) as client:
        yield client
