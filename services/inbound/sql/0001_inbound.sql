-- Inbound messages, stored once per carrier message id. org_id 'unrouted' = nobody owned the number.
CREATE TABLE IF NOT EXISTS inbound_messages (
    id                 uuid PRIMARY KEY,
    org_id             text        NOT NULL,
    seq                bigint      NOT NULL,
    carrier_message_id text        NOT NULL UNIQUE,
    phone_number_id    text,
    event_id           uuid        NOT NULL,
    from_number        text        NOT NULL,
    to_number          text        NOT NULL,
    body               text        NOT NULL,
    received_at        timestamptz NOT NULL,
    stored_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, seq)
);
CREATE INDEX IF NOT EXISTS inbound_messages_to ON inbound_messages (org_id, to_number, seq);
CREATE INDEX IF NOT EXISTS inbound_messages_from ON inbound_messages (org_id, from_number, seq);

-- Per-organization arrival counter. Its row lock is held until the storing transaction commits, so seq
-- order is commit order within an organization: a long poll's "newer than seq N" never misses a row that
-- committed late with a smaller seq.
CREATE TABLE IF NOT EXISTS org_sequences (
    org_id   text PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- Durable webhook delivery queue: one row per message pushed to an inbound_url. Workers claim due rows
-- with FOR UPDATE SKIP LOCKED and lease them (next_attempt_at pushed past the attempt timeout), so a
-- crash mid-attempt makes the row due again and nothing is held open during the HTTP call.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id               uuid PRIMARY KEY,
    org_id           text        NOT NULL,
    message_id       uuid        NOT NULL UNIQUE REFERENCES inbound_messages(id),
    phone_number_id  text        NOT NULL,
    state            text        NOT NULL,           -- pending | succeeded | failed | cancelled
    attempts         integer     NOT NULL DEFAULT 0, -- every attempt ever started (numbering)
    retry_count      integer     NOT NULL DEFAULT 0, -- failed attempts since queued_at (the backoff step)
    generation       integer     NOT NULL DEFAULT 0, -- bumped by a redelivery; stale completions only log
    queued_at        timestamptz NOT NULL,           -- start of the current retry window
    next_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    completed_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE IF NOT EXISTS webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid        NOT NULL REFERENCES webhook_deliveries(id),
    org_id       text        NOT NULL,
    attempt      integer     NOT NULL,
    attempted_at timestamptz NOT NULL,
    succeeded    boolean     NOT NULL,
    status_code  integer,
    latency_ms   integer     NOT NULL,
    error        text,
    url          text        NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
