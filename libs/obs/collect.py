"""Gauges read periodically from a service's database: each query's columns set gauges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg
from prometheus_client import Gauge


@dataclass(frozen=True)
class GaugeQuery:
    """``sql`` returns rows; the columns named in ``values`` set those gauges, labelled with the columns
    named in ``labels`` (in the gauge's label order). Label sets a later run no longer returns are
    dropped. Write ``sql`` for an index: it runs every AM_METRICS_INTERVAL_S on every replica."""

    sql: str
    values: Mapping[str, Gauge]
    labels: tuple[str, ...] = ()
    _seen: dict[str, set[tuple[str, ...]]] = field(default_factory=dict, compare=False, repr=False)

    async def collect(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire(timeout=5) as conn:
            rows = await conn.fetch(self.sql, timeout=10)
        for column, gauge in self.values.items():
            seen: set[tuple[str, ...]] = set()
            for row in rows:
                value = float(row[column] or 0)
                if self.labels:
                    key = tuple(str(row[c]) for c in self.labels)
                    gauge.labels(*key).set(value)
                    seen.add(key)
                else:
                    gauge.set(value)
            if self.labels:
                for gone in self._seen.get(column, set()) - seen:
                    gauge.remove(*gone)
                self._seen[column] = seen
            elif not rows:
                gauge.set(0)


OUTBOX = (
    "SELECT (SELECT count(*) FROM outbox) AS pending,"
    " coalesce((SELECT extract(epoch FROM now() - recorded_at) FROM events"
    " WHERE position = (SELECT min(position) FROM outbox)), 0) AS lag"
)
"""The outbox lag of any service with an event store (libs/store)."""
