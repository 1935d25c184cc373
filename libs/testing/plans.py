"""The plans PostgreSQL makes for a statement — the generic one it keeps, or the one for given values with some
of its choices made dearer — so that a test can hold a query to the index it must use."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg


async def generic_plan(pool: asyncpg.Pool, text: str) -> str:
    """The plan PostgreSQL caches for a statement once it stops planning it for each execution's values
    (``plan_cache_mode = force_generic_plan``): the plan that runs, whatever its parameters, from then on."""
    n = max((int(m) for m in re.findall(r"\$(\d+)", text)), default=0)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE planned AS {text}")
        try:
            rows = await conn.fetch(f"EXPLAIN EXECUTE planned({', '.join(['NULL'] * n)})" if n else
                                    "EXPLAIN EXECUTE planned")
        finally:
            await conn.execute("DEALLOCATE planned")
    return "\n".join(str(r[0]) for r in rows)


def index_bound(plan: str) -> str:
    """The plan's first ``Index Cond`` (what bounds its first index scan), '' when none."""
    return next((line.strip() for line in plan.splitlines() if "Index Cond" in line), "")


async def plan_of(pool: asyncpg.Pool, text: str, *args: Any, off: tuple[str, ...] = ()) -> dict[str, Any]:
    """The plan PostgreSQL makes for a statement with these values (EXPLAIN: nothing runs), with the
    planner's ``enable_<name>`` settings in ``off`` turned off — the plan it would choose were the others to
    look dearer, as a stale row count (a table grown since its last ANALYZE) can make them look."""
    async with pool.acquire() as conn, conn.transaction():
        for name in off:
            await conn.execute(f"SET LOCAL enable_{name} = off")
        [plan] = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {text}", *args))
    top: dict[str, Any] = plan["Plan"]
    return top


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """A plan's nodes, itself first."""
    return [plan, *(n for child in plan.get("Plans", []) for n in nodes(child))]


def rescanned(plan: dict[str, Any], node_type: str) -> list[dict[str, Any]]:
    """The nodes of ``node_type`` run again for each row of a nested loop's outer side (inside its inner
    side, short of an init plan, which runs once)."""
    found: list[dict[str, Any]] = []

    def walk(n: dict[str, Any], again: bool) -> None:
        if again and n["Node Type"] == node_type:
            found.append(n)
        for child in n.get("Plans", []):
            rel = child.get("Parent Relationship")
            walk(child, False if rel == "InitPlan" else
                 again or (n["Node Type"] == "Nested Loop" and rel == "Inner"))

    walk(plan, False)
    return found


def unbounded_scans(plan: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The plan's reads of ``table`` that no index condition bounds (a walk of the whole table or of an
    index), for a statement that should reach only the rows it names."""
    reads = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan")
    return [n for n in nodes(plan) if n["Node Type"] in reads and not n.get("Index Cond")
            and (n.get("Relation Name") == table or str(n.get("Index Name", "")).startswith(f"{table}_"))
            and not (n["Node Type"] == "Bitmap Heap Scan" and n.get("Recheck Cond"))]
