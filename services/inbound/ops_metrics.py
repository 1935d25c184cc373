"""Gauges ops watch, read from inbound's tables (the query uses a partial index)."""

from __future__ import annotations

from libs.obs.collect import GaugeQuery
from libs.obs.metrics import WEBHOOK_BACKLOG, WEBHOOK_OLDEST

QUERIES = (
    GaugeQuery(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(queued_at)), 0) AS oldest"
        " FROM webhook_deliveries WHERE state = 'pending'",
        {"n": WEBHOOK_BACKLOG, "oldest": WEBHOOK_OLDEST},
    ),
)
