"""A service's event store on its own migrated schema of the test database, for tests of a service's
handlers against real PostgreSQL without running the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from proto.subjects import Subjects


@asynccontextmanager
async def migrated_store(database_url: str, subject_root: str, domain: str,
                         sql_dir: Path | None) -> AsyncIterator[EventStore]:
    subjects = Subjects(subject_root)
    schema = subjects.schema(domain)
    pool = await create_pool(database_url, schema)
    try:
        await migrate(pool, schema, sql_dir)
        yield EventStore(pool, schema, subjects, domain)
    finally:
        await pool.close()
