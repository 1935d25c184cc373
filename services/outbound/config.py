"""Settings of the outbound service (AM_<FIELD>)."""

from __future__ import annotations

from libs.carrier.config import CarrierSettings


class OutboundSettings(CarrierSettings, frozen=True, kw_only=True):
    db_pool_max: int = 40
    """Outbound dispatches up to dispatch_concurrency messages at once: give it the connections."""
    price_per_segment_micros: int = 7900
    """Price of one segment in micro-dollars ($0.0079), reserved when a message is accepted."""
    default_validity_s: int = 36000
    """A message not handed to the carrier within this many seconds of becoming due fails (expired)."""
    max_validity_s: int = 36000
    """Upper bound of a message's validity_seconds."""
    max_schedule_days: int = 35
    """How far ahead send_at may be."""

    accept_batch: int = 100
    """Most sends accepted together (one sender lookup, gate request, credit request and write each)."""
    accept_workers: int = 1
    """Accept batches in flight at once; while they are, the next sends gather into new batches."""

    accept_sender_cache_s: float = 1.0
    """A number that can send is looked up at numbers at most this often while sends arrive; any numbers
    event of its organization (configured, released, campaign reviewed or suspended…) forgets it at once."""
    queue_estimate_from: int = 100
    queue_estimate_s: float = 1.0
    """A send's queue position is counted exactly, except behind a queue of at least queue_estimate_from
    messages counted within queue_estimate_s: then that count plus what was queued since. (At 1,000 sends a
    second over 20 numbers, queues of a few hundred each, exact counts were 9 % of PostgreSQL's time.)"""

    number_throughput_mpm: int = 3600
    """Per sending number: segments per minute handed to the carrier (a cap beside the campaign's)."""
    default_campaign_mpm: int = 75
    """Per campaign when the campaign carries no limit (AT&T's low-volume class)."""
    burst_s: float = 1.0
    """Token-bucket size in seconds of throughput (at least one segment)."""

    dispatch_concurrency: int = 256
    """Messages being checked and submitted at once. They move through each step together: the more, the
    larger every step's batch and the less CPU a message takes (128 against 64: 9 % less per delivered
    message in the delivery bench), and the more of the machine dispatching gets beside accepting (256: the
    bench's backlog gone 1 s after its load, p99 accepted -> delivered 0.6 s, against 30 s with 128). With an
    SMSC's small window, those beyond it wait for a slot, at most AM_CARRIER_SUBMIT_WAIT_S, then are retried."""
    dispatch_batch: int = 500
    """Due messages looked at per round."""
    dispatch_per_sender: int = 50
    """Due messages looked at per sending number per round (so one backlog cannot hide the others)."""
    dispatch_per_org: int = 200
    """Due messages looked at per organization per round (fair sharing between organizations)."""
    shaped_round_s: float = 0.1
    """While messages wait for shaping tokens, rounds come at most this often (each taking the tokens
    gathered since), not one per token; arrivals that need no token still go at once."""
    dispatch_poll_s: float = 0.5
    """Longest sleep between rounds when nothing wakes the dispatcher."""
    claim_lease_s: float = 30.0
    """A claimed message not finished within this is claimable again (a crashed worker's)."""
    retry_base_s: float = 0.5
    """First delay before resubmitting after a transient carrier error; doubles per attempt."""
    retry_cap_s: float = 60.0
    """Longest delay between two submissions of one message."""
    reply_max_age_s: float = 3600.0
    """A reply compliance recorded (STOP confirmation, HELP, a double opt-in's text) that outbound first
    reads later than this after it was recorded is not sent: an answer that late answers nothing."""
    receipt_timeout_s: float = 72 * 3600.0
    """A sent message whose final receipt has not come within this ends undelivered (DELIVERY_UNCONFIRMED)."""
    orphan_hold_after_s: float = 600.0
    """Credit held for a message that is still not in outbound's store this long after it was held is
    given back: the send was never accepted (the process died between holding and writing it, or a timed
    out hold landed after its release). Ten minutes: an accept takes milliseconds."""
    orphan_hold_sweep_s: float = 60.0
    """How often the leading dispatcher looks for such holds (those of the last 7 days)."""
    carrier_timeout_s: float = 5.0
    """One carrier submission; a timeout is a transient error (the reference makes a retry safe)."""

    callback_timeout_s: float = 10.0
    """A status callback must answer 2xx within this."""
    callback_retry_window_s: int = 86400
    """Status callbacks are retried with backoff for this long, then marked failed."""
    callback_concurrency: int = 32
    """Status callbacks being POSTed at once."""
    callback_retry_base_s: float = 1.0
    callback_retry_cap_s: float = 3600.0
    sender_cache_s: float = 30.0
    """How long a number's webhook secrets are cached for signing callbacks."""
