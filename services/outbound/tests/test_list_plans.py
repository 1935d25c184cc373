"""The message list's statement holds only the filters asked for, so its cached (generic) plan reads
them from the index: a page after a cursor starts at the cursor in ``messages_org`` instead of walking the
organization's messages from the newest and filtering each (``$n IS NULL OR …`` can be no index bound)."""

from __future__ import annotations

from pathlib import Path

from libs.testing.plans import generic_plan, index_bound
from libs.testing.statements import counted_store
from proto.base import new_id, utcnow
from services.outbound import store

SQL = Path(__file__).parent.parent / "sql"


async def test_a_page_after_a_cursor_is_bounded_by_the_index(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "outbound", SQL) as (es, statements):
        pool = es.pool
        statements.clear()
        # when: the second page of an organization's messages is listed
        await store.list_messages(pool, store.ListFilter(org_id=new_id(), limit=50, cursor_ts=utcnow(),
                                                         cursor_id=new_id()))
        [text] = statements.texts
        plan = await generic_plan(pool, text)
        # then: the plan PostgreSQL caches for that statement starts at the cursor in the index
        assert "created_at" in index_bound(plan) and "messages_org" in plan, plan
        # in the index's order: nothing to sort
        assert "Sort" not in plan, plan
