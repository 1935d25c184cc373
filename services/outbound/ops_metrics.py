"""Gauges ops watch, read from outbound's tables (each query uses a partial index)."""

from __future__ import annotations

from libs.obs.collect import GaugeQuery
from libs.obs.metrics import (
    MESSAGES,
    QUEUE_DEPTH,
    RECEIPT_LAG,
    RECEIPTS_PENDING,
    STATUS_CALLBACK_BACKLOG,
    STATUS_CALLBACK_OLDEST,
)

QUERIES = (
    GaugeQuery(
        # one count per status, each written with its constant: a status taken from a list
        # (m.status = s.status) matches no partial index, and every message ever sent was read
        " UNION ALL ".join(f"SELECT '{s}' AS status, (SELECT count(*) FROM messages WHERE status = '{s}') AS n"
                           for s in ("scheduled", "queued", "sending", "sent")),
        {"n": MESSAGES}, ("status",),
    ),
    GaugeQuery(
        "SELECT from_number AS sender, count(*) AS depth FROM messages WHERE status = 'queued'"
        " GROUP BY from_number ORDER BY depth DESC LIMIT 100",
        {"depth": QUEUE_DEPTH}, ("sender",),
    ),
    GaugeQuery(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(updated_at)), 0) AS lag"
        " FROM messages WHERE status = 'sent'",
        {"n": RECEIPTS_PENDING, "lag": RECEIPT_LAG},
    ),
    GaugeQuery(
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest"
        " FROM status_callbacks WHERE state = 'pending'",
        {"n": STATUS_CALLBACK_BACKLOG, "oldest": STATUS_CALLBACK_OLDEST},
    ),
)
