"""Prometheus metrics shared by every service.

Gauges read from the database or JetStream (``am_outbox_*``, ``am_consumer_*``, ``am_messages``,
``am_queue_depth``, ``am_*_backlog``, ``am_*_oldest_seconds``) show the same value on every replica of a
service: aggregate them with ``max``, not ``sum``. Counters and histograms are per replica: ``sum``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter("am_events_appended_total", "Events appended to the store", ["service"])
EVENTS_PUBLISHED = Counter("am_events_published_total", "Events relayed to JetStream", ["service"])
EVENTS_RELAYED = Counter(
    "am_events_relayed_total",
    "Events relayed to JetStream by type (aggregate.event, e.g. message.delivered): message status changes",
    ["service", "event"],
)
MESSAGES_CONSUMED = Counter(
    "am_consumer_messages_total", "Messages handled by a consumer", ["consumer", "outcome"]
)
RPC_LATENCY = Histogram("am_rpc_seconds", "Command handling time", ["subject", "outcome"])
HTTP_LATENCY = Histogram("am_http_seconds", "HTTP request time by route and status", ["route", "status"])

# -- read periodically (AM_METRICS_INTERVAL_S) from the database and JetStream ----------------------
OUTBOX_PENDING = Gauge("am_outbox_pending", "Events in the outbox: not yet published to JetStream, or published by"
                       " the relay's last round and deleted with its next", ["service"])
OUTBOX_LAG = Gauge(
    "am_outbox_lag_seconds", "Age of the oldest event in the outbox (0 when none)", ["service"]
)
CONSUMER_PENDING = Gauge(
    "am_consumer_pending", "Messages of the stream a durable consumer has not been delivered yet", ["stream", "durable"]
)
CONSUMER_ACK_PENDING = Gauge(
    "am_consumer_ack_pending", "Messages delivered to a durable consumer and not acknowledged yet", ["stream", "durable"]
)
CONSUMER_REDELIVERED = Gauge(
    "am_consumer_redelivered", "Messages a durable consumer has had delivered more than once (still unacked)",
    ["stream", "durable"],
)
MESSAGES = Gauge("am_messages", "Outbound messages not yet final, by status", ["status"])
QUEUE_DEPTH = Gauge(
    "am_queue_depth", "Outbound messages queued per sending number (the 100 deepest queues)", ["sender"]
)
RECEIPTS_PENDING = Gauge("am_receipts_pending", "Messages handed to the carrier and waiting for their receipt")
RECEIPT_LAG = Gauge(
    "am_receipt_lag_seconds", "How long the oldest message handed to the carrier has waited for its receipt"
)
STATUS_CALLBACK_BACKLOG = Gauge("am_status_callback_backlog", "Status callbacks not yet delivered")
STATUS_CALLBACK_OLDEST = Gauge(
    "am_status_callback_oldest_seconds", "Age of the oldest status callback not yet delivered (0 when none)"
)
WORK_CLAIMED = Counter("am_work_claimed_total", "Work-queue rows claimed: offered (by id, handed over by the"
                       " process that stored them) or found by a scan for due rows", ["queue", "how"])
WEBHOOK_BACKLOG = Gauge("am_webhook_backlog", "Inbound-message webhooks not yet delivered")
WEBHOOK_OLDEST = Gauge(
    "am_webhook_oldest_seconds", "Age of the oldest inbound-message webhook not yet delivered (0 when none)"
)

# -- observed as it happens -------------------------------------------------------------------------
CARRIER_SUBMIT = Histogram(
    "am_carrier_submit_seconds", "Time of one message submission to the carrier API", ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GATE_DECISIONS = Counter(
    "am_gate_decisions_total", "Compliance gate decisions by outcome (allow, deny, defer) and reason code",
    ["outcome", "reason"],
)

# -- the carrier service's upstream (SMPP binds; see services/carrier) ----------------------------------
SMPP_BINDS_UP = Gauge("am_carrier_smpp_binds_up", "SMPP connections bound", ["mode"])
SMPP_WINDOW_IN_USE = Gauge("am_carrier_smpp_window_in_use", "submit_sm awaiting their answer (all binds)")
SMPP_SUBMIT = Histogram("am_carrier_smpp_submit_seconds", "One submit_sm to its submit_sm_resp",
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SMPP_THROTTLED = Counter("am_carrier_smpp_throttled_total",
                         "submit_sm answered ESME_RTHROTTLED / ESME_RMSGQFUL", ["status"])
SMPP_BIND_FAILURES = Counter("am_carrier_smpp_bind_failures_total", "Bind attempts that failed", ["reason"])
CARRIER_RECEIPT_LAG = Histogram("am_carrier_receipt_lag_seconds", "Submission acknowledged to its final receipt",
                                buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400))
CARRIER_RECEIPTS = Counter("am_carrier_receipts_total", "Part receipts received", ["effect"])
CARRIER_INBOUND = Counter("am_carrier_inbound_pdus_total", "Inbound text PDUs", ["effect"])
CARRIER_SUBMISSIONS = Counter("am_carrier_submissions_total", "Submissions by outcome", ["outcome"])
