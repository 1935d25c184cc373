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
