"""Counting the statements a pool sends to PostgreSQL. A statement is a round trip, and the hot paths'
speed rests on how few they take: a test can hold a path to its count. asyncpg's first look at a type is
a query of its own (once per connection), so run the path once before counting it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from proto.subjects import Subjects


class Statements:
    """The statements sent on the connections it was added to (``add_query_logger``), in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, record: Any) -> None:
        self.texts.append(str(getattr(record, "query", "")))

    def __len__(self) -> int:
        return len(self.texts)

    def clear(self) -> None:
        self.texts.clear()


@asynccontextmanager
async def counted_pool(database_url: str, schema: str) -> AsyncIterator[tuple[asyncpg.Pool, Statements]]:
    """A pool of one connection, its statements counted."""
    pool = await create_pool(database_url, schema, max_size=1)
    statements = Statements()
    async with pool.acquire() as conn:
        conn.add_query_logger(statements)
    try:
        yield pool, statements
    finally:
        await pool.close()


@asynccontextmanager
async def counted_store(database_url: str, subject_root: str, service: str,
                        sql: Path) -> AsyncIterator[tuple[EventStore, Statements]]:
    """``service``'s event store on its own schema, migrated with ``sql``, over a :func:`counted_pool`."""
    subjects = Subjects(subject_root)
    schema = subjects.schema(service)
    async with counted_pool(database_url, schema) as (pool, statements):
        await migrate(pool, schema, sql)
        yield EventStore(pool, schema, subjects, service), statements
