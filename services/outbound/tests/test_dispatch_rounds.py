"""The dispatcher's rounds against real PostgreSQL: a round that took every candidate it read, with slots
still free, but read as many as a round may (of one number, of one organization, in all) goes again at
once instead of sleeping the poll interval — and a round that found nothing to claim does not, nor one
whose candidates another transaction holds locked (it would spin on them until they are free)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import msgspec

from libs.obs.settings import load_settings
from libs.store.eventstore import EventStore
from libs.testing.stores import migrated_store
from proto.base import new_id, utcnow
from services.outbound import model, projection
from services.outbound.commands import Accept
from services.outbound.config import OutboundSettings
from services.outbound.dispatcher import Dispatcher
from services.outbound.shaping import Candidate, TokenBucket
from services.outbound.tests.test_statements import FACTS

SQL = Path(__file__).parent.parent / "sql"


class Recording(Dispatcher):
    """The real rounds (candidates, shaping, claims); each claimed message is only recorded, not checked
    and submitted (that path has its own tests), so what a round claims is all there is to see."""

    submitted: list[str]

    async def _submit(self, m: model.Message) -> None:
        self.submitted.append(m.id)


def queued(org_id: str, sender: str, campaign: str) -> projection.Write:
    facts = msgspec.structs.replace(FACTS, from_=sender, campaign_id=campaign, throughput_mpm=100_000)
    new = model.Message(id=new_id(), org_id=org_id)
    return projection.write_of(new, model.decide(new, Accept(facts, utcnow())).events)


async def one_number_due(es: EventStore, n: int) -> tuple[list[projection.Write], Recording]:
    """``n`` due messages of one number, and a recording dispatcher whose round reads 50 of a number, with
    200 slots and a poll interval of 0.5 s."""
    settings = load_settings(OutboundSettings, {"AM_NUMBER_THROUGHPUT_MPM": "100000", "AM_DISPATCH_PER_SENDER": "50",
                                                "AM_DISPATCH_CONCURRENCY": "200", "AM_DISPATCH_POLL_S": "0.5"})
    org = new_id()
    batch = [queued(org, "+14155550100", "C1") for _ in range(n)]
    await projection.insert(es, batch)
    d = Recording(es, cast(Any, None), cast(Any, None), settings)
    d.submitted = []
    return batch, d


async def settled(d: Dispatcher) -> None:
    while d.inflight:
        await next(iter(d.inflight.values()))


def counting_reads(d: Dispatcher) -> list[list[Candidate]]:
    """What each of ``d``'s rounds read (its candidates, before shaping)."""
    read: list[list[Candidate]] = []
    select = d.shaper.select

    def counting(cands: list[Candidate], now: float, limit: int) -> list[Candidate]:
        read.append(list(cands))
        return select(cands, now, limit)

    d.shaper.select = counting  # type: ignore[method-assign,assignment]
    return read


async def test_a_full_round_goes_again_at_once_and_an_empty_one_sleeps(database_url: str,
                                                                        subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        # given: 120 due messages of one number, more than a round reads of one number (50)
        batch, d = await one_number_due(es, 120)
        delays = []
        for _ in range(4):
            # when: rounds run back to back, each after the previous one's work finished
            delays.append(await d.tick())
            await settled(d)
        # then: the two full rounds asked for the next one at once; the last one (20 left) and the empty
        # one after it sleep the poll interval, with nothing claimed
        assert delays == [0.0, 0.0, 0.5, 0.5]
        assert sorted(d.submitted) == sorted(w.after.id for w in batch)
        assert len(d.submitted) == len(set(d.submitted))


async def test_a_full_round_that_claimed_nothing_for_locked_rows_sleeps(database_url: str,
                                                                        subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        # given: 60 due messages of one number (a round reads 50 of them: a full round), every one locked
        # by another transaction (an acceptance, a cancel, a receipt being applied)
        _, d = await one_number_due(es, 60)
        async with es.pool.acquire() as other, other.transaction():
            assert len(await other.fetch("SELECT id FROM messages FOR UPDATE")) == 60
            # when: rounds run while they are held
            delays = [await d.tick() for _ in range(3)]
            await settled(d)
            # then: each claimed nothing and sleeps the poll interval instead of going again at once
            assert d.submitted == []
            assert delays == [0.5, 0.5, 0.5]
        # and once they are free, the next round takes them
        assert await d.tick() == 0.0
        await settled(d)
        assert len(d.submitted) == 50


async def test_a_round_reads_no_more_of_a_number_than_its_tokens_and_comes_back_for_the_rest(
        database_url: str, subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        # given: 30 due messages of a number whose bucket holds 3 tokens (frozen there: its last refill is
        # dated a minute ahead, so a slow machine cannot add any during the round) and earns one a second
        settings = load_settings(OutboundSettings, {"AM_NUMBER_THROUGHPUT_MPM": "60", "AM_DISPATCH_PER_SENDER": "50",
                                                    "AM_DISPATCH_CONCURRENCY": "200", "AM_DISPATCH_POLL_S": "30"})
        org = new_id()
        await projection.insert(es, [queued(org, "+14155550100", "C1") for _ in range(30)])
        d = Recording(es, cast(Any, None), cast(Any, None), settings)
        d.submitted = []
        read = counting_reads(d)
        d.shaper.numbers["+14155550100"] = TokenBucket(rate=1.0, capacity=10.0, tokens=3.0,
                                                       updated=time.monotonic() + 60)
        # when: a round
        delay = await d.tick()
        await settled(d)
        # then: it read 3 of the number's queue (not 50), took them, and sleeps only until the next token
        # (1 s), not the poll interval (30 s): the rest are due behind them
        assert [len(r) for r in read] == [3] and len(d.submitted) == 3
        assert 0 < delay <= 1.0
        assert "+14155550100" in d._backlogged


async def test_a_round_reads_no_more_of_a_number_than_it_has_free_slots(database_url: str,
                                                                         subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        # given: 40 due messages of one number (no shaping limit near) and a dispatcher with 8 slots, whose
        # round may read 50 of a number and 200 of an organization
        settings = load_settings(OutboundSettings, {"AM_NUMBER_THROUGHPUT_MPM": "100000",
                                                    "AM_DISPATCH_PER_SENDER": "50", "AM_DISPATCH_CONCURRENCY": "8",
                                                    "AM_DISPATCH_POLL_S": "0.5"})
        org = new_id()
        batch = [queued(org, "+14155550100", "C1") for _ in range(40)]
        await projection.insert(es, batch)
        d = Recording(es, cast(Any, None), cast(Any, None), settings)
        d.submitted = []
        read = counting_reads(d)
        # when: rounds run, each after the previous one's work finished
        for k in range(5):
            await d.tick()
            if k == 0:  # (more are due behind the 8 it read: their arrivals need not wake a round)
                assert "+14155550100" in d._backlogged
            await settled(d)
        # then: each read the 8 it could take (not 40), the oldest first, and all 40 went once
        assert [len(r) for r in read] == [8] * 5
        ids = [w.after.id for w in batch]
        assert [{c.id for c in r} for r in read] == [set(ids[k:k + 8]) for k in range(0, 40, 8)]
        assert sorted(d.submitted) == sorted(ids)


async def test_with_few_slots_a_backlogged_organization_does_not_hide_the_others(database_url: str,
                                                                                 subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        # given: one organization's 30 due messages, then one message each of two more organizations (due
        # after all of those), and a dispatcher with 2 slots
        settings = load_settings(OutboundSettings, {"AM_NUMBER_THROUGHPUT_MPM": "100000",
                                                    "AM_DISPATCH_CONCURRENCY": "2", "AM_DISPATCH_POLL_S": "0.5"})
        big, small1, small2 = new_id(), new_id(), new_id()
        backlog = [queued(big, "+14155550100", "C1") for _ in range(30)]
        await projection.insert(es, backlog)
        others = [queued(small1, "+14155550101", "C2"), queued(small2, "+14155550102", "C3")]
        await projection.insert(es, others)
        d = Recording(es, cast(Any, None), cast(Any, None), settings)
        d.submitted = []
        # when: two rounds
        for _ in range(2):
            await d.tick()
            await settled(d)
        # then: both of the others went in them, beside two of the backlog, not after the backlog's 30
        assert set(d.submitted) >= {w.after.id for w in others}
        assert len(d.submitted) == 4
