"""The decision log's group commit against real PostgreSQL: a batch of decisions — their pages (one
event per organization), the pages' events and the audit rows — is ONE statement, one round trip."""

from __future__ import annotations

from pathlib import Path

import msgspec

from libs.testing.statements import counted_store
from proto.base import new_id, utcnow
from proto.events.compliance import DecisionCheck, GateDecision
from services.compliance.store import DecisionLog

SQL = Path(__file__).parent.parent / "sql"


def decision(kind: str = "allow") -> GateDecision:
    return GateDecision(decision_id=new_id(), message_id=new_id(), decided_at=utcnow(), stage="accept",
                        from_number="+14155550100", contact_number="+14155550123", kind="transactional",
                        category="transactional", decision="deny" if kind == "deny" else "allow",
                        code="OPTED_OUT" if kind == "deny" else None)


async def test_a_batch_of_decisions_is_one_statement(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "compliance", SQL) as (es, statements):
        pool = es.pool
        log = DecisionLog(es)
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


async def test_a_decisions_checks_are_kept_as_the_gate_encoded_them(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "compliance", SQL) as (es, _):
        checks = [DecisionCheck(name="opt_out", result="pass", detail="not opted out"),
                  DecisionCheck(name="quiet_hours", result="defer", detail="22:10 in America/New_York, \"quiet\"")]
        d = msgspec.structs.replace(decision(), checks=checks)
        await DecisionLog(es)._write([(new_id(), d)])
        # stored as the text it was given (json, not re-parsed and re-printed as jsonb would)
        row = await es.pool.fetchrow("SELECT pg_typeof(checks)::text AS t, checks::text AS checks FROM gate_decisions")
        assert (row["t"], row["checks"]) == ("json", msgspec.json.encode(checks).decode())


async def test_decisions_are_counted_by_outcome_and_reason(database_url: str, subject_root: str) -> None:
    from prometheus_client import REGISTRY

    def count(outcome: str, reason: str) -> float:
        return REGISTRY.get_sample_value("am_gate_decisions_total", {"outcome": outcome, "reason": reason}) or 0.0

    async with counted_store(database_url, subject_root, "compliance", SQL) as (es, _):
        log = DecisionLog(es)
        log.start()
        try:
            before = count("allow", "none"), count("deny", "OPTED_OUT")
            await log.record_many([(new_id(), decision(kind)) for kind in ("allow", "deny", "allow")])
            await log.record_many([(new_id(), decision("deny")), (new_id(), decision("deny"))])
            assert await es.pool.fetchval("SELECT count(*) FROM gate_decisions") == 5  # on the ledger too
            assert (count("allow", "none"), count("deny", "OPTED_OUT")) == (before[0] + 2, before[1] + 3)
        finally:
            await log.stop()
