"""Settings of the gateway."""

from __future__ import annotations

from libs.obs.settings import CommonSettings


class GatewaySettings(CommonSettings, frozen=True, kw_only=True):
    gateway_port: int = 8080
    """Port of the public API (AM_GATEWAY_PORT)."""
    gateway_host: str = "127.0.0.1"
    """Interface of the public API (AM_GATEWAY_HOST; 0.0.0.0 in a container)."""
    public_url: str = ""
    """Base URL in the OpenAPI document's servers and the reference (AM_PUBLIC_URL); default: the origin the
    request came to."""
    rate_limit_rps: float = 200.0
    """Token-bucket refill per API key, requests per second."""
    rate_limit_burst: int = 400
    """Token-bucket size per API key."""
    signup_rate_per_min: int = 10
    """Signups per client address per minute."""
    login_rate_per_min: int = 10
    """Log-in attempts per client address per minute, and per email (POST /v1/sessions)."""
    session_ttl_s: int = 12 * 3600
    """How long a dashboard session lasts after log-in (AM_SESSION_TTL_S)."""
    send_batch: int = 100
    """At most this many sends in flight together go to outbound in one request (AM_SEND_BATCH)."""
    send_batches_in_flight: int = 4
    """How many such requests are in flight at once (AM_SEND_BATCHES_IN_FLIGHT): a send waits for a free
    one, so when idle it goes at once and under load the batches grow."""
    max_body_bytes: int = 64 * 1024
    """Request bodies larger than this answer 413."""
    auth_cache_ttl_s: float = 300.0
    """How long a verified key is cached; revocations evict it at once by event."""
    idempotency_ttl_s: int = 24 * 3600
    """How long a POST's first response is replayed for its Idempotency-Key."""
    price_per_segment_micros: int = 7900
    """Price of one SMS segment (AM_PRICE_PER_SEGMENT_MICROS, as outbound's): a key's spend_per_day cap
    is checked against it before the send."""
    mcp_api_url: str = ""
    """Where /mcp's tools reach the public API (AM_MCP_API_URL); by default this gateway over loopback."""
    idempotency_lease_s: float = 30.0
    """How long a request in flight holds its Idempotency-Key: a duplicate meanwhile answers 409 with
    Retry-After; past it (the holder crashed or lost its answer) a retry goes ahead. Longer than any
    backing call (rpc_timeout_s, and the 30 s of a number order)."""
    rpc_timeout_s: float = 10.0
    """How long the gateway waits for a backing service (a few routes wait longer)."""
    read_retry_budget_s: float = 2.0
    """A safe read (GET) that meets a fault (503) is retried inside the gateway for up to this long."""
    retry_after_s: int = 1
    """Retry-After of a 503: when a client following the retry contract comes back."""
