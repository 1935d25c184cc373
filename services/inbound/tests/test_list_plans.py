"""The inbound list's statement holds only the filters asked for, so its cached (generic) plan reads them
from their index (a "$n IS NULL OR from_number = $n" filter can be no index bound)."""

from __future__ import annotations

from pathlib import Path

from libs.testing.plans import generic_plan, index_bound
from libs.testing.statements import counted_store
from proto.base import new_id
from services.inbound import store

SQL = Path(__file__).parent.parent / "sql"


async def test_a_list_by_number_is_planned_on_that_number_s_index(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "inbound", SQL) as (es, statements):
        pool = es.pool
        statements.clear()
        # when: an organization's messages from one contact are listed
        await store.list_messages(pool, new_id(), to=None, from_="+14155550123", since=None, before_seq=None,
                                  after_seq=None, limit=50)
        [text] = statements.texts
        plan = await generic_plan(pool, text)
        # then: the plan PostgreSQL caches for that statement reads that contact's rows from its index
        # (a "$n IS NULL OR from_number = $n" filter reads the whole organization's)
        assert "inbound_messages_from" in plan and "from_number" in index_bound(plan), plan
