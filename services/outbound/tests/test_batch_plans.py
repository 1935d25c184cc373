"""A batch of status changes reaches its messages by their ids whatever the planner believes of the
table's size (see ``services/inbound/tests/test_batch_plans.py``: a row count from before the table grew
made a walk of a whole index look cheap there)."""

from __future__ import annotations

from pathlib import Path

from libs.testing.plans import plan_of, unbounded_scans
from libs.testing.statements import counted_store
from proto.base import new_id
from services.outbound import model, projection
from services.outbound.commands import Dispatch
from services.outbound.rules import Receipt
from services.outbound.tests.test_statements import accepted

SQL = Path(__file__).parent.parent / "sql"


async def test_a_batch_of_status_changes_reaches_its_messages_by_id(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "outbound", SQL) as (es, _statements):
        # when: the dispatcher's write of messages going out
        org = new_id()
        sending = [projection.write_of(w.after, model.decide(w.after, Dispatch(1, None)).events)
                   for w in (accepted(org) for _ in range(3))]
        w, _ = projection.changes(sending)
        text, args = es.compiled(w)
        plan = await plan_of(es.pool, text, *args, off=("hashjoin", "nestloop", "seqscan", "bitmapscan"))
        # then: no read of messages goes unbounded (a merge join would walk its whole primary key)
        assert unbounded_scans(plan, "messages") == [], plan
        # and so for the receipts that come before their messages were sent
        text, args = projection.holding({w.after.id: Receipt(carrier_message_id="c", status="DELIVRD")
                                         for w in sending}).compile()
        plan = await plan_of(es.pool, text, *args, off=("hashjoin", "nestloop", "seqscan", "bitmapscan"))
        assert unbounded_scans(plan, "messages") == [], plan
