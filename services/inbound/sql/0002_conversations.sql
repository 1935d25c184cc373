-- Conversations (issue 19): one per (organization, its number, contact), both directions, a read model
-- fed by outbound's message events and inbound's own InboundMessageReceived.
CREATE TABLE IF NOT EXISTS conversations (
    id              uuid PRIMARY KEY,
    org_id          uuid        NOT NULL,
    phone_number    text        NOT NULL,
    contact_number  text        NOT NULL,
    last_message_id uuid,
    last_at         timestamptz NOT NULL,
    message_count   integer     NOT NULL DEFAULT 0,
    unread_count    integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    UNIQUE (org_id, phone_number, contact_number)
);
CREATE INDEX IF NOT EXISTS conversations_recent ON conversations (org_id, last_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS conversations_contact ON conversations (org_id, contact_number);
CREATE TABLE IF NOT EXISTS conversation_messages (
    id              uuid PRIMARY KEY,
    conversation_id uuid        NOT NULL,
    org_id          uuid        NOT NULL,
    direction       text        NOT NULL,
    from_number     text        NOT NULL,
    to_number       text        NOT NULL,
    body            text        NOT NULL,
    status          text,
    at              timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_messages_time ON conversation_messages (conversation_id, at DESC, id DESC);
