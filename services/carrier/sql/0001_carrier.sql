-- The carrier service: submissions (read model of the submission-<message_id> streams plus the attempt
-- marker written before the first PDU leaves), the carrier's ids of every part (a receipt that comes
-- before our record of the submit_sm_resp waits in its row), inbound PDUs seen and concatenation parts.
CREATE TABLE IF NOT EXISTS submissions (
    message_id         uuid PRIMARY KEY,
    org_id             text        NOT NULL,
    adapter            text        NOT NULL,
    state              text        NOT NULL,  -- writing | submitted | refused | unconfirmed
    carrier_message_id text,
    parts              int         NOT NULL DEFAULT 1,
    error_code         text,
    reason             text,
    receipt_status     text,       -- the final receipt published for the message, once
    submitted_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS submissions_state ON submissions (state);

CREATE TABLE IF NOT EXISTS carrier_ids (
    carrier_message_id text PRIMARY KEY,
    message_id         uuid,       -- NULL: a receipt came first and waits for its submission
    part               int,
    stat               text,
    err                text,
    done_at            text,
    receipt_at         timestamptz
);
CREATE INDEX IF NOT EXISTS carrier_ids_message ON carrier_ids (message_id);
CREATE INDEX IF NOT EXISTS carrier_ids_held ON carrier_ids (receipt_at) WHERE message_id IS NULL;

CREATE TABLE IF NOT EXISTS mo_seen (
    key     text PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mo_seen_at ON mo_seen (seen_at);

CREATE TABLE IF NOT EXISTS mo_parts (
    group_key   text        NOT NULL,
    seq         int         NOT NULL,
    total       int         NOT NULL,
    source      text        NOT NULL,
    destination text        NOT NULL,
    text        text        NOT NULL,
    data_coding int         NOT NULL,
    first_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_key, seq)
);
CREATE INDEX IF NOT EXISTS mo_parts_first ON mo_parts (first_at);
