"""Processed-event records: a consumer claims an event id in the transaction of its effects."""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """True the first time; False when this consumer already handled the event (a redelivery)."""
    status: str = await conn.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING",
        consumer,
        event_id,
    )
    return status.endswith(" 1")


async def claim_many(conn: asyncpg.Connection, consumer: str, event_ids: list[str]) -> set[str]:
    """``claim`` for a batch in one statement: the ids ``consumer`` had not handled yet, now recorded."""
    rows = await conn.fetch("INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])"
                            " ON CONFLICT DO NOTHING RETURNING event_id::text AS event_id", consumer, event_ids)
    return {r["event_id"] for r in rows}
