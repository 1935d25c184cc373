"""Two carrier replicas asked to submit the same message at once (a retry landing on the other replica
while the first waits for a window slot), against real PostgreSQL: a carrier that is not safe to ask
twice is asked once, and the attempt marker of one replica is never removed by the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libs.store.eventstore import EventStore
from libs.testing.stores import migrated_store
from proto.base import CommandError, new_id
from proto.commands.carrier import BindView, SubmitMessage, Submitted
from services.carrier.adapters import AboutToWrite, Unavailable
from services.carrier.config import CarrierServiceSettings
from services.carrier.handlers import Carrier

SQL = Path(__file__).parent.parent / "sql"
ORG = "00000000-0000-0000-0000-000000000001"


class Gated:
    """An upstream adapter whose submission waits at its window until the test lets it through, then
    marks the attempt, and either "sends" (counted) or fails before anything left (``fail``)."""

    upstream = "gated"

    def __init__(self, name: str, resubmit_safe: bool, sent: list[str]) -> None:
        self.name = name
        self.resubmit_safe = resubmit_safe
        self.sent = sent
        self.arrived = 0
        self.marked = asyncio.Event()
        self.window = asyncio.Event()
        self.write = asyncio.Event()
        self.fail = False

    def ready(self) -> bool:
        return True

    def views(self) -> list[BindView]:
        return []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, cmd: SubmitMessage, about_to_write: AboutToWrite) -> list[str]:
        self.arrived += 1
        await self.window.wait()
        await about_to_write(1)
        self.marked.set()
        await self.write.wait()
        if self.fail:
            raise Unavailable("nothing left")
        self.sent.append(cmd.message_id)
        return [f"{self.name}-{cmd.message_id}"]


@pytest.fixture
async def es(database_url: str, subject_root: str) -> AsyncIterator[EventStore]:
    async with migrated_store(database_url, subject_root, "carrier", SQL) as store:
        yield store


def replica(es: EventStore, adapter: Gated) -> Carrier:
    return Carrier(es, adapter, CarrierServiceSettings())


def command() -> SubmitMessage:
    return SubmitMessage(org_id=ORG, message_id=new_id(), from_="+14155550100", to="+15550000001", text="hi")


async def until(cond: object) -> None:
    async with asyncio.timeout(10):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def answer(task: asyncio.Task[Submitted]) -> Submitted | CommandError:
    try:
        return await task
    except CommandError as exc:
        return exc


async def test_two_replicas_submit_a_message_the_carrier_takes_once(es: EventStore) -> None:
    # given: two replicas over an SMPP-like upstream (not safe to ask twice), the same message asked of
    # both, each past its look at earlier attempts and waiting for a window slot
    sent: list[str] = []
    a, b = Gated("a", False, sent), Gated("b", False, sent)
    c = command()
    first = asyncio.create_task(replica(es, a).submit(c))
    second = asyncio.create_task(replica(es, b).submit(c))
    await until(lambda: a.arrived and b.arrived)
    # when: both get their slot at once
    a.window.set()
    b.window.set()
    a.write.set()
    b.write.set()
    answers = [await answer(first), await answer(second)]
    # then: the carrier was asked once; the other replica answers the first's outcome or "under way"
    assert sent == [c.message_id]
    ok = [x for x in answers if isinstance(x, Submitted)]
    assert ok and all(x.carrier_message_id == ok[0].carrier_message_id for x in ok)
    for x in answers:
        assert isinstance(x, Submitted) or (x.code == "CARRIER_UNAVAILABLE" and x.status == 503)
    row = await es.pool.fetchrow("SELECT state, carrier_message_id FROM submissions WHERE message_id = $1::uuid",
                                 c.message_id)
    assert row is not None and row["state"] == "submitted" and row["carrier_message_id"] == ok[0].carrier_message_id


async def test_a_replica_that_sent_nothing_clears_only_its_own_marker(es: EventStore) -> None:
    # given: an upstream safe to ask twice; replica a marked the attempt, then replica b took it over
    sent: list[str] = []
    a, b = Gated("a", True, sent), Gated("b", True, sent)
    c = command()
    first = asyncio.create_task(replica(es, a).submit(c))
    a.window.set()
    await a.marked.wait()
    second = asyncio.create_task(replica(es, b).submit(c))
    b.window.set()
    await b.marked.wait()
    # when: a's attempt fails before anything left (its marker goes), while b's is still under way
    a.fail = True
    a.write.set()
    lost = await answer(first)
    assert isinstance(lost, CommandError) and lost.code == "CARRIER_UNAVAILABLE"
    # then: b's marker is still there
    state = await es.pool.fetchval("SELECT state FROM submissions WHERE message_id = $1::uuid", c.message_id)
    assert state == "writing"
    b.write.set()
    done = await answer(second)
    assert isinstance(done, Submitted) and sent == [c.message_id]
