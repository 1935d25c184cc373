"""The keywords consumer meets every inbound text after inbound had compliance screen it: a text this
replica screened is done without a statement; any other still goes to the database. Against real
PostgreSQL, its statements counted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from libs.testing.statements import counted_store
from proto.base import new_id, utcnow
from proto.commands.compliance import ScreenInbound
from proto.events.inbound import InboundMessageReceived
from services.compliance.config import ComplianceSettings
from services.compliance.handlers import KEYWORDS_CONSUMER, Compliance

SQL = Path(__file__).parent.parent / "sql"


def text(body: str) -> InboundMessageReceived:
    mid = new_id()
    return InboundMessageReceived(org_id=new_id(), message_id=mid, carrier_message_id=f"c-{mid}",
                                  phone_number_id=new_id(), from_="+13055550100", to="+13055550199", body=body,
                                  received_at=utcnow(), occurred_at=utcnow(), event_id=new_id())


class Touched:
    """The event ids each statement recording texts as processed was given (a query logger's view)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, record: Any) -> None:
        if "processed_events" in str(record.query) and "INSERT" in str(record.query):
            self.ids += [str(i) for i in record.args[1]]


async def test_a_text_screened_here_is_done_for_the_consumer_without_a_statement(
        database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "compliance", SQL) as (es, _):
        touched = Touched()
        async with es.pool.acquire() as conn:  # (the store's pool is one connection)
            conn.add_query_logger(touched)
        h = Compliance(SimpleNamespace(store=es), ComplianceSettings(), senders=None)  # type: ignore[arg-type]
        texts = [text(f"see you at {k} tomorrow, bring the cake") for k in range(3)]
        await h.screen_inbound(ScreenInbound(messages=texts[:2]))

        async def processed() -> set[str]:
            rows = await es.pool.fetch("SELECT event_id::text AS e FROM processed_events WHERE consumer = $1",
                                       KEYWORDS_CONSUMER)
            return {r["e"] for r in rows}

        assert await processed() == {t.event_id for t in texts[:2]}

        touched.ids.clear()
        done = await h.absorb_consumed(list(texts))
        assert done == {t.event_id for t in texts}
        assert touched.ids == [texts[2].event_id]  # only the one no replica here screened
        assert await processed() == {t.event_id for t in texts}

        touched.ids.clear()  # met again (a redelivery): remembered once, so it is asked of the database
        assert await h.absorb_consumed([texts[0]]) == {texts[0].event_id}
        assert touched.ids == [texts[0].event_id]
