"""Settings of the inbound service (AM_<FIELD>)."""

from __future__ import annotations

from libs.carrier.config import CarrierSettings


class InboundSettings(CarrierSettings, frozen=True, kw_only=True):
    inbound_webhook_db_pool: int = 24
    """Postgres connections of the delivery worker's own pool (one listens for NOTIFY), all opened at start."""
    inbound_webhook_timeout_s: float = 10.0
    """A receiver must answer 2xx within this many seconds, or the attempt failed."""
    inbound_webhook_concurrency: int = 512
    """Webhook POSTs in flight at once in this replica."""
    inbound_webhook_per_number_concurrency: int = 128
    """POSTs in flight at once for one phone number whose receiver answers 2xx quickly (never more than a
    quarter of inbound_webhook_concurrency)."""
    inbound_webhook_unhealthy_concurrency: int = 2
    """POSTs in flight at once for a number whose last answer failed or was slow: a slow or dead receiver
    takes no more than this many slots, so other numbers' deliveries go on."""
    inbound_webhook_slow_ms: int = 2000
    """A 2xx slower than this counts as slow (the number drops to the unhealthy concurrency)."""
    inbound_webhook_retry_base_s: float = 5.0
    """First retry delay; each further retry doubles it (with jitter: 50-100 % of the step)."""
    inbound_webhook_retry_cap_s: float = 3600.0
    """Largest delay between two retries."""
    inbound_webhook_retry_window_s: float = 86400.0
    """Retries go on until at least this long after the message was queued, then it is marked failed."""
    inbound_webhook_lease_s: float = 30.0
    """How long a claimed delivery is reserved for its attempt; after a crash it is due again this soon.
    Must exceed the attempt timeout."""
    inbound_webhook_poll_interval_s: float = 1.0
    """Longest sleep of the delivery loop between looks at the queue (new work also wakes it by NOTIFY)."""
    inbound_webhook_claim_interval_s: float = 0.005
    """Shortest time between two claims of due deliveries (a burst of wake-ups becomes one query)."""
    inbound_resolve_timeout_s: float = 3.0
    """How long to wait for numbers.resolve_inbound before answering the carrier 503 (it retries)."""
    inbound_screen_timeout_s: float = 5.0
    """How long to wait for compliance to record arriving messages' keyword effects (``screen_inbound``,
    before they are stored and visible) before answering the carrier 503 (it retries)."""
    inbound_route_cache_s: float = 1.0
    """How long a number's route (owner, inbound_url, secrets) is reused for arriving messages; any change
    to the number evicts it at once (its events reach every replica); 0 = ask numbers every time."""
    inbound_route_handoff_s: float = 2.0
    """A message's first delivery attempt reuses the route (URL, secrets) resolved when the message was
    stored if that was at most this long ago, instead of asking numbers again; 0 = always ask."""
