-- Read model of the message aggregate (stream message-<id>), kept in the transaction of each append.
CREATE TABLE IF NOT EXISTS messages (
    id                  uuid PRIMARY KEY,
    org_id              uuid        NOT NULL,
    version             integer     NOT NULL,
    from_number         text        NOT NULL,
    to_number           text        NOT NULL,
    body                text        NOT NULL,
    status              text        NOT NULL,
    status_reason       text,
    error_code          text,
    category            text        NOT NULL,
    kind                text        NOT NULL,
    segments            integer     NOT NULL,
    encoding            text        NOT NULL,
    price_micros        bigint      NOT NULL,
    phone_number_id     text        NOT NULL DEFAULT '',
    campaign_id         text        NOT NULL DEFAULT '',
    throughput_mpm      integer     NOT NULL DEFAULT 0,
    status_callback_url text,
    send_at             timestamptz,
    validity_seconds    integer     NOT NULL,
    expires_at          timestamptz NOT NULL,
    next_attempt_at     timestamptz NOT NULL,
    claimed_until       timestamptz,
    claim_id            uuid,
    attempts            integer     NOT NULL DEFAULT 0,
    carrier_message_id  text,
    pending_receipt     jsonb,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_org ON messages (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS messages_due ON messages (next_attempt_at)
    WHERE status IN ('scheduled', 'queued', 'sending');
CREATE INDEX IF NOT EXISTS messages_expiry ON messages (expires_at)
    WHERE status IN ('scheduled', 'queued', 'sending');
CREATE INDEX IF NOT EXISTS messages_sender_queue ON messages (from_number, created_at)
    WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS messages_contact_pending ON messages (org_id, to_number)
    WHERE status IN ('scheduled', 'queued');
CREATE INDEX IF NOT EXISTS messages_carrier_id ON messages (carrier_message_id);

-- Every status a message went through, with its time and reason (GET /v1/messages/{id} timeline).
CREATE TABLE IF NOT EXISTS message_timeline (
    message_id uuid        NOT NULL,
    seq        integer     NOT NULL,
    status     text        NOT NULL,
    reason     text,
    at         timestamptz NOT NULL,
    event_id   uuid        NOT NULL,
    PRIMARY KEY (message_id, seq)
);

-- Every delivery receipt the carrier sent, matched or not, duplicates included (for ops).
CREATE TABLE IF NOT EXISTS receipts (
    id                 bigserial PRIMARY KEY,
    message_id         uuid,
    carrier_message_id text        NOT NULL,
    reference          text,
    status             text        NOT NULL,
    error_code         text,
    occurred_at        text,
    effect             text        NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS receipts_message ON receipts (message_id);

-- Status callbacks waiting to be POSTed (durable, retried with backoff, delivered in order per message).
CREATE TABLE IF NOT EXISTS status_callbacks (
    id               uuid PRIMARY KEY,
    seq              bigserial   NOT NULL,
    org_id           uuid        NOT NULL,
    message_id       uuid        NOT NULL,
    from_number      text        NOT NULL,
    status           text        NOT NULL,
    url              text        NOT NULL,
    body             bytea       NOT NULL,
    state            text        NOT NULL DEFAULT 'pending',
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    claimed_until    timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS status_callbacks_due ON status_callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS status_callbacks_message ON status_callbacks (message_id, seq);

-- The organization-level secret that signs status callbacks from numbers without a webhook secret.
CREATE TABLE IF NOT EXISTS org_callback_secrets (
    org_id     uuid PRIMARY KEY,
    secret     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
