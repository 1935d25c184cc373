"""The statements the hot paths run for a batch reach the batch's rows by their keys whatever the planner
believes of a table's size. Its belief comes from the last ANALYZE: a table that grew since (a queue under
load, before autovacuum gets to it) looks nearly empty, and a plan that walks it — or recomputes a
subquery for each of its rows — looks cheap. Each test reads the plan with the other plans made to look
dearer, as such a stale count makes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from libs.testing.plans import nodes, plan_of, rescanned, unbounded_scans
from libs.testing.statements import counted_store
from proto.base import new_id
from proto.events.inbound import WebhookDeliverySucceeded
from proto.events.outbound import MessageDelivered
from services.inbound import store
from services.inbound.conversations import OUTBOUND_CONSUMER, absorb_statement

SQL = Path(__file__).parent.parent / "sql"
WALKS = ("hashjoin", "nestloop", "seqscan", "bitmapscan")
"""Off: what is left is a merge join, and an index walked end to end unless something bounds it."""


async def test_the_webhook_claim_ranks_the_due_deliveries_once(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "inbound", SQL) as (es, _statements):
        # when: the claim of the webhook worker (its lanes: one number full, one with two slots free)
        plan = await plan_of(es.pool, store.CLAIM_DUE, 50, ["+14155550100", "+14155550101"], [0, 2],
                             ["+14155550100"], 200, 8, 30.0, None, off=("hashjoin", "mergejoin"))
        # then: the due deliveries are ranked per number once, not again for each row they are matched with
        # (with a nearly empty table in the planner's eyes, 400 due rows ranked 400 times: 30-60 ms a claim,
        # the backlog growing faster than the worker drains it)
        assert [n["Node Type"] for n in nodes(plan)].count("WindowAgg") == 1
        assert rescanned(plan, "WindowAgg") == [] and rescanned(plan, "Sort") == [], plan


async def test_the_webhook_successes_reach_their_deliveries_by_id(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "inbound", SQL) as (es, _statements):
        # when: a batch of 2xx attempts is recorded
        now = datetime.now(UTC)
        org = new_id()
        items = [store.Success(d, 1, store.Attempt(org, 1, now, True, 204, 12, None, "https://example.com/hook"),
                               WebhookDeliverySucceeded(org_id=org, delivery_id=d, message_id=new_id(),
                                                        phone_number_id=new_id(), message_event_id=new_id(),
                                                        attempts=1, status_code=204))
                 for d in (new_id(), new_id())]
        text, args = es.compiled(store.success_write(items))
        plan = await plan_of(es.pool, text, *args, off=WALKS)
        # then: no read of the deliveries walks a whole index (a merge join over the due index did: 400 due
        # rows read and sorted for each batch of successes)
        assert unbounded_scans(plan, "webhook_deliveries") == [], plan


async def test_the_conversations_batch_reaches_its_messages_by_their_ids(database_url: str,
                                                                           subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "inbound", SQL) as (es, _statements):
        # when: a batch of statuses for messages already in conversations
        text, *args = absorb_statement(OUTBOUND_CONSUMER, [MessageDelivered(org_id=new_id(), message_id=new_id())
                                                           for _ in range(3)])
        plan = await plan_of(es.pool, str(text), *args, off=WALKS)
        # then: their rows are looked up by the batch's ids (joined to the batch alone, a merge join walked
        # the whole primary key: 30 ms a batch at 20,000 messages)
        assert unbounded_scans(plan, "conversation_messages") == [], plan
