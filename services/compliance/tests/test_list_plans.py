"""Compliance's audit of gate decisions holds only the filters asked for, so its cached (generic) plan
reads them from their index (a "$n IS NULL OR contact_number = $n" filter can be no index bound)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

from libs.runtime.service import Service
from libs.testing.plans import generic_plan, index_bound
from libs.testing.statements import counted_store
from proto.base import new_id
from proto.commands.compliance import ListDecisions
from services.compliance.handlers import Compliance
from services.compliance.views import Views

SQL = Path(__file__).parent.parent / "sql"


async def test_the_audit_by_contact_is_planned_on_the_contact_s_index(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "compliance", SQL) as (es, statements):
        pool = es.pool
        views = Views(cast(Service, SimpleNamespace(store=SimpleNamespace(pool=pool))), cast(Compliance, None))
        statements.clear()
        # when: an organization's decisions about one contact are listed
        await views.decisions(ListDecisions(org_id=new_id(), contact="+14155550123"))
        [text] = statements.texts
        plan = await generic_plan(pool, text)
        # then: the plan PostgreSQL caches for that statement reads that contact's rows from its index
        # (a "$n IS NULL OR contact_number = $n" filter reads every decision of the organization)
        assert "gate_decisions_contact" in plan and "contact_number" in index_bound(plan), plan
