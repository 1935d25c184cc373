"""Two carrier replicas asked to submit the same message at once (a retry landing on the other replica
while the first waits for a window slot), against real PostgreSQL: the carrier is asked once, whether it is
safe to ask twice (the HTTP API) or not (SMPP), and MessageSubmitted recorded once; the attempt marker of
one replica is never removed by the other, and only a marker older than its attempt can last is taken over
(a crashed replica's, where the upstream is safe to ask again)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libs.store.eventstore import EventStore
from libs.testing import SLACK
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

    def __init__(self, name: str, resubmit_safe: bool, sent: list[str], parts: int = 1) -> None:
        self.name = name
        self.parts = parts
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
        await about_to_write(self.parts)
        self.marked.set()
        await self.write.wait()
        if self.fail:
            raise Unavailable("nothing left")
        self.sent.append(cmd.message_id)
        return [f"{self.name}-{cmd.message_id}-{i}" for i in range(1, self.parts + 1)]


@pytest.fixture
async def es(database_url: str, subject_root: str) -> AsyncIterator[EventStore]:
    async with migrated_store(database_url, subject_root, "carrier", SQL) as store:
        yield store


def replica(es: EventStore, adapter: Gated) -> Carrier:
    return Carrier(es, adapter, CarrierServiceSettings())


def command() -> SubmitMessage:
    return SubmitMessage(org_id=ORG, message_id=new_id(), from_="+14155550100", to="+15550000001", text="hi")


async def until(cond: object) -> None:
    async with asyncio.timeout(10 * SLACK):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def answer(task: asyncio.Task[Submitted]) -> Submitted | CommandError:
    try:
        return await task
    except CommandError as exc:
        return exc


async def submitted_events(es: EventStore, message_id: str) -> int:
    n: int = await es.pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1 AND event_type ="
                                    " 'MessageSubmitted'", f"submission-{message_id}")
    return n


async def age_marker(es: EventStore, message_id: str) -> None:
    """The message's marker as if its attempt had stopped long ago (a crashed replica's)."""
    await es.pool.execute("UPDATE submissions SET updated_at = now() - interval '1 hour'"
                          " WHERE message_id = $1::uuid", message_id)


async def marked_by_a(es: EventStore) -> tuple[list[str], Gated, Gated, SubmitMessage, asyncio.Task[Submitted]]:
    """Replicas a and b over an upstream safe to ask twice (the HTTP API), and a message whose attempt on
    a has marked it and waits to write: what the carrier was sent, a, b, the message, a's answer."""
    sent: list[str] = []
    a, b = Gated("a", True, sent), Gated("b", True, sent)
    c = command()
    first = asyncio.create_task(replica(es, a).submit(c))
    a.window.set()
    await a.marked.wait()
    return sent, a, b, c, first


@pytest.mark.parametrize("resubmit_safe", [False, True], ids=["smpp", "http"])
async def test_two_replicas_submit_a_message_the_carrier_takes_once(es: EventStore, resubmit_safe: bool) -> None:
    # given: two replicas over an SMPP-like upstream (not safe to ask twice) or the HTTP API (safe to ask
    # again), the same message asked of both, each past its look at earlier attempts and waiting for a
    # window slot
    sent: list[str] = []
    a, b = Gated("a", resubmit_safe, sent), Gated("b", resubmit_safe, sent)
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
    assert await submitted_events(es, c.message_id) == 1


async def test_a_replica_that_sent_nothing_clears_only_its_own_marker(es: EventStore) -> None:
    # given: an upstream safe to ask twice; replica a marked the attempt (and then looked crashed: its
    # marker aged past an attempt's time), then replica b took it over
    sent, a, b, c, first = await marked_by_a(es)
    await age_marker(es, c.message_id)
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


async def test_a_live_marker_is_not_taken_over_where_the_upstream_is_safe_to_ask_again(es: EventStore) -> None:
    # given: the HTTP API (safe to ask again); replica a marked the attempt and is still at it
    sent, a, b, c, first = await marked_by_a(es)
    # when: the message is asked of replica b meanwhile
    b.window.set()
    b.write.set()
    late = await answer(asyncio.create_task(replica(es, b).submit(c)))
    # then: b sends nothing and answers "under way"; a's attempt is the one recorded
    assert isinstance(late, CommandError) and (late.code, late.status) == ("CARRIER_UNAVAILABLE", 503)
    a.write.set()
    done = await answer(first)
    assert isinstance(done, Submitted) and sent == [c.message_id]
    assert await submitted_events(es, c.message_id) == 1


async def test_an_attempt_outlived_by_its_marker_does_not_record_the_message_again(es: EventStore) -> None:
    # given: the HTTP API; replica a marked the attempt and stalled past an attempt's time, so replica b
    # took its marker over, asked the carrier again (safe: idempotent on our reference) and recorded it
    sent, a, b, c, first = await marked_by_a(es)
    await age_marker(es, c.message_id)
    b.window.set()
    b.write.set()
    taken = await answer(asyncio.create_task(replica(es, b).submit(c)))
    assert isinstance(taken, Submitted)
    # when: a's attempt comes back from the carrier after all
    a.write.set()
    late = await answer(first)
    # then: MessageSubmitted is recorded once (the carrier asked twice, which its API makes safe), and a
    # answers what was recorded
    assert sent == [c.message_id, c.message_id]
    assert await submitted_events(es, c.message_id) == 1
    assert isinstance(late, Submitted) and late.carrier_message_id == taken.carrier_message_id


def short_smpp_window() -> tuple[CarrierServiceSettings, float]:
    """Settings whose SMPP attempt window (the submit wait plus two response timeouts) is short, and that
    window in seconds."""
    s = CarrierServiceSettings(carrier_submit_wait_s=0.4 * SLACK, smpp_response_timeout_s=0.1 * SLACK)
    return s, s.carrier_submit_wait_s + 2 * s.smpp_response_timeout_s


async def events_of(es: EventStore, message_id: str) -> list[str]:
    rows = await es.pool.fetch("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
                               f"submission-{message_id}")
    return [r["event_type"] for r in rows]


async def test_a_long_submission_still_sending_is_under_way_past_the_window(es: EventStore) -> None:
    # given: an SMPP-like upstream (not safe to ask twice); replica a marked a long text of 4 parts and is
    # still sending them (each waits for a window slot and its response) past one attempt window
    settings, window = short_smpp_window()
    sent: list[str] = []
    a, b = Gated("a", False, sent, parts=4), Gated("b", False, sent, parts=4)
    c = command()
    first = asyncio.create_task(Carrier(es, a, settings).submit(c))
    a.window.set()
    await a.marked.wait()
    marked_at = time.monotonic()
    await until(lambda: time.monotonic() - marked_at > 2 * window)
    # when: the message is asked of replica b (outbound's retry)
    b.window.set()
    b.write.set()
    late = await answer(asyncio.create_task(Carrier(es, b, settings).submit(c)))
    # then: b sends nothing and answers "under way", not unconfirmed; a's parts are recorded as submitted
    assert isinstance(late, CommandError) and (late.code, late.status) == ("CARRIER_UNAVAILABLE", 503), late
    a.write.set()
    done = await answer(first)
    assert isinstance(done, Submitted) and done.parts == 4 and sent == [c.message_id]
    assert await events_of(es, c.message_id) == ["MessageSubmitted"]


async def test_a_crashed_attempts_marker_still_ages_out(es: EventStore) -> None:
    # given: an SMPP-like upstream; replica a marked a long text and died while sending it (its attempt
    # is gone: nothing of it runs any more)
    settings, window = short_smpp_window()
    sent: list[str] = []
    a, b = Gated("a", False, sent, parts=4), Gated("b", False, sent, parts=4)
    c = command()
    dead = Carrier(es, a, settings)
    first = asyncio.create_task(dead.submit(c))
    a.window.set()
    await a.marked.wait()
    dead._inflight[c.message_id].cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    marked_at = time.monotonic()
    await until(lambda: time.monotonic() - marked_at > 1.5 * window)
    # when: the message is asked of replica b once an attempt's window has passed
    b.window.set()
    b.write.set()
    late = await answer(asyncio.create_task(Carrier(es, b, settings).submit(c)))
    # then: its marker aged out: the message is unconfirmed (it may have left), and nothing is sent again
    assert isinstance(late, CommandError) and late.code == "SUBMISSION_UNCONFIRMED", late
    assert sent == [] and await events_of(es, c.message_id) == ["SubmissionUnconfirmed"]
