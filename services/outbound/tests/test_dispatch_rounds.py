"""The dispatcher's rounds against real PostgreSQL: a round that took every candidate it read, with slots
still free, but read as many as a round may (of one number, of one organization, in all) goes again at
once instead of sleeping the poll interval — and a round that found nothing to claim does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import msgspec

from libs.obs.settings import load_settings
from libs.testing.stores import migrated_store
from proto.base import new_id, utcnow
from services.outbound import model, projection
from services.outbound.commands import Accept
from services.outbound.config import OutboundSettings
from services.outbound.dispatcher import Dispatcher
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


async def settled(d: Dispatcher) -> None:
    while d.inflight:
        await next(iter(d.inflight.values()))


async def test_a_full_round_goes_again_at_once_and_an_empty_one_sleeps(database_url: str,
                                                                        subject_root: str) -> None:
    settings = load_settings(OutboundSettings, {"AM_NUMBER_THROUGHPUT_MPM": "100000", "AM_DISPATCH_PER_SENDER": "50",
                                                "AM_DISPATCH_CONCURRENCY": "200", "AM_DISPATCH_POLL_S": "0.5"})
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        # given: 120 due messages of one number, more than a round reads of one number (50)
        org, sender = new_id(), "+14155550100"
        batch = [queued(org, sender, "C1") for _ in range(120)]
        await projection.insert(es, batch)
        d = Recording(es, cast(Any, None), cast(Any, None), settings)
        d.submitted = []
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
