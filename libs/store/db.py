"""Connection pool per service schema, and versioned SQL migrations applied at start."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

log = structlog.get_logger(__name__)

_BASE_SQL = Path(__file__).parent / "sql"


async def ensure_database(dsn: str) -> None:
    """Create the database named in the DSN if it is missing (embedded and test servers)."""
    try:
        conn = await asyncpg.connect(dsn)
        await conn.close()
        return
    except asyncpg.InvalidCatalogNameError:
        pass
    parts = urlsplit(dsn)
    dbname = parts.path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'CREATE DATABASE "{dbname}"')
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        pass  # another service or replica created it first (at the same moment: the catalog's unique index)
    finally:
        await admin.close()


class Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no types
    """A pool connection that skips asyncpg's reset round trip on release (``RESET ALL; CLOSE ALL;
    UNLISTEN *; pg_advisory_unlock_all()`` — a fifth of a short query's cost) unless it was marked as
    holding session state. Open transactions are rolled back on release either way (asyncpg does that
    before it asks for the reset query)."""

    __slots__ = ("_am_session_sql", "_am_session_state")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._am_session_state = False
        self._am_session_sql = ""

    def hold_session_state(self) -> None:
        """Call before a session-level advisory lock, LISTEN or SET: the full reset runs on release."""
        self._am_session_state = True

    def get_reset_query(self) -> str:
        if not self._am_session_state:
            return ""
        self._am_session_state = False
        # behind PgBouncer the session settings were SET, not startup parameters: RESET ALL would drop
        # them, so they are SET again in the same round trip
        return str(super().get_reset_query()) + self._am_session_sql


async def create_pool(dsn: str, schema: str, max_size: int = 10, custom_plans: bool = False,
                      min_size: int = 1, pgbouncer: bool = False) -> asyncpg.Pool:
    """``custom_plans``: plan every prepared statement for its parameters. After five runs PostgreSQL
    may switch to a generic plan, blind to them; for queue claims (LIMIT $n, = ANY($n)) that plan scans
    whole tables — 40 ms a claim instead of 2. For short key lookups planning each time is wasted work.

    Sequential scans are off for these sessions: every statement a service runs is written for an
    index, and a generic plan made while a table is still nearly empty (a fresh deployment, the first
    minute of a new table) would otherwise pick a sequential scan and keep it, cached with its prepared
    statement, while the table grows — each lookup of a few messages by id then reading all of them.
    A statement with no index to use still scans; only the choice is taken away.

    ``pgbouncer`` (AM_DB_PGBOUNCER): the DSN is a PgBouncer in session mode, which refuses startup
    parameters it does not track (``unsupported startup parameter: search_path``). The session settings
    are then SET on each new connection (and again after a full reset) instead; only application_name
    stays a startup parameter. Everything else asyncpg does (its prepared-statement cache, LISTEN, session
    advisory locks) needs session mode and works unchanged; transaction mode is not supported."""
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except asyncpg.UniqueViolationError:
        pass  # two replicas racing on CREATE SCHEMA
    finally:
        await conn.close()
    session = {"search_path": f'"{schema}"', "enable_seqscan": "off",
               **({"plan_cache_mode": "force_custom_plan"} if custom_plans else {})}
    startup = {"application_name": f"am-{schema}"}
    init: Any = None
    if pgbouncer:
        session_sql = "".join(f"SET {k} = {v};" for k, v in session.items())

        async def init(conn: Connection) -> None:
            conn._am_session_sql = session_sql
            await conn.execute(session_sql)
    else:
        startup.update({**session, "search_path": schema})
    pool = await asyncpg.create_pool(
        dsn,
        min_size=max(1, min(min_size, max_size)),
        max_size=max_size,
        server_settings=startup,
        connection_class=Connection,
        init=init,
    )
    assert pool is not None
    return pool


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(schema.encode()).digest()[:8], "big", signed=True)


async def migrate(pool: asyncpg.Pool, schema: str, service_sql: Path | None) -> list[str]:
    """Apply the event-store base and the service's versioned ``NNNN_name.sql`` files in order.

    Idempotent, and safe when two replicas start at once: one transaction under an advisory lock.
    """
    files = sorted(_BASE_SQL.glob("*.sql"))
    if service_sql is not None and service_sql.exists():
        files += sorted(service_sql.glob("*.sql"))
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for f in files:
            name = f"{f.parent.name}/{f.name}" if f.parent == _BASE_SQL else f.name
            if name in done:
                continue
            await conn.execute(f.read_text())
            await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", name)
            applied.append(name)
    if applied:
        log.info("migrations_applied", schema=schema, files=applied)
    return applied


async def pending_migrations(pool: asyncpg.Pool, service_sql: Path | None) -> int:
    files = list(_BASE_SQL.glob("*.sql"))
    if service_sql is not None and service_sql.exists():
        files += list(service_sql.glob("*.sql"))
    async with pool.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    return len(files) - int(n)
