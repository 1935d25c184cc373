"""The plan PostgreSQL keeps for a statement: a test can hold a query to the index it must use."""

from __future__ import annotations

import re

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
