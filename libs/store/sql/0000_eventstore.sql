-- The event store every service shares the shape of, in its own schema.
CREATE TABLE IF NOT EXISTS events (
    position      bigserial PRIMARY KEY,
    stream_id     text        NOT NULL,
    version       integer     NOT NULL,
    event_id      uuid        NOT NULL UNIQUE,
    event_type    text        NOT NULL,
    subject       text        NOT NULL,
    org_id        text        NOT NULL,
    data          jsonb       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_unpublished ON events (position) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS events_org ON events (org_id, position);

-- A consumer's record of what it has handled, written in the same transaction as its effects.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Poison messages: terminated on the stream, kept here for an operator.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text        NOT NULL,
    subject     text        NOT NULL,
    stream_seq  bigint,
    reason      text        NOT NULL,
    payload     bytea       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
