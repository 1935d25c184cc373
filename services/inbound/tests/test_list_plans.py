"""The inbound list's statement holds only the filters asked for, so its cached (generic) plan reads them
from their index (a "$n IS NULL OR from_number = $n" filter can be no index bound)."""

from __future__ import annotations

from pathlib import Path

from libs.store.db import migrate
from libs.testing.plans import generic_plan, index_bound
from libs.testing.statements import counted_pool
from proto.base import new_id
from proto.subjects import Subjects
from services.inbound import store

SQL = Path(__file__).parent.parent / "sql"


async def test_a_list_by_number_is_planned_on_that_number_s_index(database_url: str, subject_root: str) -> None:
    schema = Subjects(subject_root).schema("inbound")
    async with counted_pool(database_url, schema) as (pool, statements):
        await migrate(pool, schema, SQL)
        statements.clear()
        # when: an organization's messages from one contact are listed
        await store.list_messages(pool, new_id(), to=None, from_="+14155550123", since=None, before_seq=None,
                                  after_seq=None, limit=50)
        [text] = statements.texts
        plan = await generic_plan(pool, text)
        # then: the plan PostgreSQL caches for that statement reads that contact's rows from its index
        # (a "$n IS NULL OR from_number = $n" filter reads the whole organization's)
        assert "inbound_messages_from" in plan and "from_number" in index_bound(plan), plan
