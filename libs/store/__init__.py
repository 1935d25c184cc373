"""Postgres event store: pool, migrations, one write API (events of one or many streams with optimistic
concurrency, their projections and the relay's wake-up, in one statement), the outbox relay,
processed-event records."""

from libs.store.query import Sql, given, join, notify, sql, table, where
from libs.store.write import ConcurrencyError, Write

__all__ = ["ConcurrencyError", "Sql", "Write", "given", "join", "notify", "sql", "table", "where"]
