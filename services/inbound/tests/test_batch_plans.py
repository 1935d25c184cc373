"""The statements the hot paths run for a batch find their rows by the batch's keys whatever the planner
believes of a table's size. Its belief comes from the last ANALYZE: a table that grew since (a queue under
load, before autovacuum gets to it) looks nearly empty, and a plan that walks it — or recomputes a
subquery for each of its rows — looks cheap. Each test reads the plan with the other joins made to look
dearer, as such a stale count makes them."""

from __future__ import annotations

from pathlib import Path

from libs.testing.plans import nodes, plan_of, rescanned
from libs.testing.statements import counted_store
from proto.base import new_id
from proto.events.outbound import MessageDelivered
from services.inbound import store
from services.inbound.conversations import OUTBOUND_CONSUMER, absorb_statement

SQL = Path(__file__).parent.parent / "sql"


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


async def test_the_conversations_batch_reaches_its_messages_by_their_ids(database_url: str,
                                                                           subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "inbound", SQL) as (es, _statements):
        # when: a batch of statuses for messages already in conversations
        text, *args = absorb_statement(OUTBOUND_CONSUMER, [MessageDelivered(org_id=new_id(), message_id=new_id())
                                                           for _ in range(3)])
        plan = await plan_of(es.pool, str(text), *args, off=("hashjoin", "nestloop", "seqscan", "bitmapscan"))
        # then: their rows are looked up by the batch's ids (joined to the batch alone, a merge join walked
        # the whole primary key: 30 ms a batch at 20,000 messages)
        [update] = [n for n in nodes(plan) if n.get("Operation") == "Update"
                    and n.get("Relation Name") == "conversation_messages"]
        scans = [n for n in nodes(update)[1:] if n.get("Relation Name") == "conversation_messages"
                 or str(n.get("Index Name", "")).startswith("conversation_messages")]
        assert scans and all("ANY" in n.get("Index Cond", "") for n in scans), scans
