"""Settings of the numbers service."""

from __future__ import annotations

from libs.carrier.config import CarrierSettings


class NumbersSettings(CarrierSettings, frozen=True, kw_only=True):
    numbers_file: str = ""
    """A file of the numbers the operator leases (one E.164 per line, optionally ``,region,locality``):
    numbers are searched and ordered from it, brands are taken as verified and campaigns wait for the
    operator's verdict (``amctl campaigns approve|reject``) — for a deployment without a carrier API for
    numbers and 10DLC. Empty = the HTTP carrier API at AM_SIM_URL."""
    numbers_file_vetting_score: int = 50
    """With AM_NUMBERS_FILE: the vetting score given to brands (it sets campaign throughput)."""
    number_monthly_price_micros: int = 1_150_000
    """What a number costs per month ($1.15), debited from credit when it is ordered."""
    max_numbers_per_order: int = 10
    webhook_secret_grace_s: int = 86_400
    """After a rotation the previous webhook secret still signs for this long (24 h)."""
    pending_order_timeout_s: int = 300
    """An order still pending after this long (its process died mid-way) is undone by the sweeper."""
    abandoned_after_s: int = 60
    """A repeat of an order or a campaign creation (same Idempotency-Key) that finds the first attempt still
    pending this long after it started takes it for dead (a crash mid-way): it undoes it and goes ahead,
    instead of answering 409 IDEMPOTENCY_IN_FLIGHT until the sweeper gets there."""
    callback_max_attempts: int = 8
    """Campaign status callbacks are tried this many times, with backoff, then given up."""
    campaign_callback_retry_base_s: float = 1.0
    """Delay before a campaign status callback's first retry; doubled for each further one (with jitter)."""
    campaign_callback_retry_cap_s: float = 600.0
    """Largest delay between two tries of a campaign status callback."""
    callback_timeout_s: float = 5.0
    dns_timeout_s: float = 2.0
    """How long resolving a webhook URL's host may take before the URL is refused."""
