"""The keywords consumer meets every inbound text after inbound had compliance screen it: a text this
replica screened is done without a statement; any other still goes to the database (the end-to-end tests
cover what those statements do)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from proto.base import new_id, utcnow
from proto.commands.compliance import ScreenInbound
from proto.events.inbound import InboundMessageReceived
from services.compliance.config import ComplianceSettings
from services.compliance.handlers import Compliance


class Statements:
    """A stand-in pool that only counts what it is asked (no statement here needs an answer)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.asked.append((query, args))
        return "INSERT 0 0"

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.asked.append((query, args))
        return []


def text(body: str) -> InboundMessageReceived:
    mid = new_id()
    return InboundMessageReceived(org_id=new_id(), message_id=mid, carrier_message_id=f"c-{mid}",
                                  phone_number_id=new_id(), from_="+13055550100", to="+13055550199", body=body,
                                  received_at=utcnow(), occurred_at=utcnow(), event_id=new_id())


def touched(pool: Statements) -> list[str]:
    """The event ids the statements recorded as processed (the touch's second argument)."""
    return [eid for q, args in pool.asked if "processed_events" in q for eid in args[1]]


async def test_a_text_screened_here_is_done_for_the_consumer_without_a_statement() -> None:
    pool = Statements()
    h = Compliance(SimpleNamespace(store=SimpleNamespace(pool=pool)), ComplianceSettings(), senders=None)  # type: ignore[arg-type]
    texts = [text(f"see you at {k} tomorrow, bring the cake") for k in range(3)]
    await h.screen_inbound(ScreenInbound(messages=texts[:2]))
    assert sorted(touched(pool)) == sorted(t.event_id for t in texts[:2])

    pool.asked.clear()
    done = await h.absorb_consumed(list(texts))
    assert done == {t.event_id for t in texts}
    assert touched(pool) == [texts[2].event_id]  # only the one no replica here screened

    pool.asked.clear()  # met again (a redelivery): remembered once, so it is asked of the database
    assert await h.absorb_consumed([texts[0]]) == {texts[0].event_id}
    assert touched(pool) == [texts[0].event_id]
