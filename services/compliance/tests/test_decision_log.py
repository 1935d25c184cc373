"""The decision log's group commit against real PostgreSQL: a batch of decisions — their pages (one
event per organization), the pages' events and the audit rows — is ONE statement, one round trip."""

from __future__ import annotations

from pathlib import Path

from libs.store.db import migrate
from libs.store.eventstore import EventStore
from libs.testing.statements import counted_pool
from proto.base import new_id, utcnow
from proto.events.compliance import GateDecision
from proto.subjects import Subjects
from services.compliance.store import DecisionLog

SQL = Path(__file__).parent.parent / "sql"


def decision(kind: str = "allow") -> GateDecision:
    return GateDecision(decision_id=new_id(), message_id=new_id(), decided_at=utcnow(), stage="accept",
                        from_number="+14155550100", contact_number="+14155550123", kind="transactional",
                        category="transactional", decision="deny" if kind == "deny" else "allow",
                        code="OPTED_OUT" if kind == "deny" else None)


async def test_a_batch_of_decisions_is_one_statement(database_url: str, subject_root: str) -> None:
    subjects = Subjects(subject_root)
    schema = subjects.schema("compliance")
    async with counted_pool(database_url, schema) as (pool, statements):
        await migrate(pool, schema, SQL)
        log = DecisionLog(EventStore(pool, schema, subjects, "compliance"))
        orgs = [new_id() for _ in range(3)]
        await log._write([(orgs[0], decision())])  # asyncpg's first look at the types, out of the count
        statements.clear()
        # when: a batch of 60 decisions of three organizations is recorded
        batch = [(orgs[i % 3], decision("deny" if i % 5 == 0 else "allow")) for i in range(60)]
        await log._write(batch)
        # then: one statement wrote three pages and 60 audit rows
        assert len(statements) == 1
        pages = await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'GateDecisionsRecorded'")
        rows = await pool.fetchval("SELECT count(*) FROM gate_decisions")
        assert (pages, rows) == (1 + 3, 1 + 60)
