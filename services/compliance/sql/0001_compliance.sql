-- Read models of the consent ledger, updated in the same transaction as the events they derive from.

-- One row per (organization, contact): the state the gate reads with one indexed lookup.
CREATE TABLE IF NOT EXISTS contacts (
    org_id                  text        NOT NULL,
    contact                 text        NOT NULL,
    version                 integer     NOT NULL DEFAULT 0,   -- version of stream contact-<org>:<contact>
    consent_id              text,
    consent_method          text,
    consent_granted_at      timestamptz,
    consent_evidence        jsonb,
    opted_out               boolean     NOT NULL DEFAULT false,
    opted_out_at            timestamptz,
    opt_out_source          text,
    opt_out_rule            text,
    opt_out_confirmation_id text,
    last_inbound_at         timestamptz,                      -- from inbound's InboundMessageReceived
    status                  text GENERATED ALWAYS AS (
        CASE WHEN opted_out THEN 'opted_out' WHEN consent_id IS NOT NULL THEN 'granted' ELSE 'none' END
    ) STORED,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, contact)
);
CREATE INDEX IF NOT EXISTS contacts_list ON contacts (org_id, created_at DESC, contact DESC) WHERE version > 0;
CREATE INDEX IF NOT EXISTS contacts_status ON contacts (org_id, status, created_at DESC, contact DESC)
    WHERE version > 0;

CREATE TABLE IF NOT EXISTS double_opt_ins (
    id                text        PRIMARY KEY,
    org_id            text        NOT NULL,
    contact           text        NOT NULL,
    phone_number_id   text        NOT NULL,
    from_number       text        NOT NULL,
    confirmation_text text        NOT NULL,
    message_id        text        NOT NULL,
    status            text        NOT NULL,   -- pending | confirmed | expired | failed
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    confirmed_at      timestamptz
);
CREATE INDEX IF NOT EXISTS double_opt_ins_contact ON double_opt_ins (org_id, contact, created_at DESC);
CREATE INDEX IF NOT EXISTS double_opt_ins_pending ON double_opt_ins (expires_at) WHERE status = 'pending';

-- Texts compliance issued (outbound sends them on their events), under deterministic ids. The gate
-- honours an exempt kind only for a message id issued here. (handed_off / error: written by releases that
-- handed texts to outbound themselves; no longer written, see 0003.)
CREATE TABLE IF NOT EXISTS issued_messages (
    message_id      text        PRIMARY KEY,
    org_id          text        NOT NULL,
    contact         text        NOT NULL,
    kind            text        NOT NULL,
    from_number     text        NOT NULL,
    text            text        NOT NULL,
    source_event_id text        NOT NULL,
    handed_off      boolean     NOT NULL DEFAULT false,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS issued_messages_unsent ON issued_messages (source_event_id) WHERE NOT handed_off;
CREATE INDEX IF NOT EXISTS issued_messages_sweep ON issued_messages (created_at) WHERE NOT handed_off;

CREATE TABLE IF NOT EXISTS org_settings (
    org_id                      text        PRIMARY KEY,
    version                     integer     NOT NULL,
    quiet_hours_enabled         boolean     NOT NULL,
    quiet_hours_action          text        NOT NULL,
    conversation_window_enabled boolean     NOT NULL,
    conversation_window_hours   integer     NOT NULL,
    double_opt_in_expiry_hours  integer     NOT NULL,
    help_reply                  text,
    opt_out_reply               text,
    opt_in_reply                text,
    updated_at                  timestamptz NOT NULL
);

-- The audit export reads the consent ledger in order without scanning the (many) decision events.
CREATE INDEX IF NOT EXISTS events_consent_ledger ON events (org_id, position) WHERE stream_id LIKE 'contact-%';
