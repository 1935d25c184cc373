"""Prometheus metrics shared by every service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter("am_events_appended_total", "Events appended to the store", ["service"])
EVENTS_PUBLISHED = Counter("am_events_published_total", "Events relayed to JetStream", ["service"])
MESSAGES_CONSUMED = Counter(
    "am_consumer_messages_total", "Messages handled by a consumer", ["consumer", "outcome"]
)
RPC_LATENCY = Histogram("am_rpc_seconds", "Command handling time", ["subject", "outcome"])
HTTP_LATENCY = Histogram("am_http_seconds", "HTTP request time", ["route", "status"])
