"""Postgres event store: pool, migrations, append/load with optimistic concurrency, outbox relay,
processed-event records."""
