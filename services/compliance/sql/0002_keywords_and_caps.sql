-- Campaigns' own keywords (learned from numbers' campaign events) and frequency caps.

-- A campaign's opt-out and help keywords and replies, and which numbers are on it: a custom keyword texted
-- to one of its numbers is an opt-out (or a help request) answered with the campaign's message.
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id      text        PRIMARY KEY,
    org_id           text        NOT NULL,
    opt_out_keywords text[]      NOT NULL DEFAULT '{}',
    opt_out_message  text        NOT NULL DEFAULT '',
    help_keywords    text[]      NOT NULL DEFAULT '{}',
    help_message     text        NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS campaign_numbers (
    org_id      text NOT NULL,
    e164        text NOT NULL,
    campaign_id text NOT NULL,
    PRIMARY KEY (org_id, e164)
);

-- Sends the gate allowed under a frequency cap, and when each counts (now, or the time it was deferred to).
CREATE TABLE IF NOT EXISTS frequency_sends (
    message_id text        PRIMARY KEY,
    org_id     text        NOT NULL,
    contact    text        NOT NULL,
    category   text        NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS frequency_sends_contact ON frequency_sends (org_id, contact, at);

ALTER TABLE org_settings ADD COLUMN IF NOT EXISTS frequency_caps jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE org_settings ADD COLUMN IF NOT EXISTS frequency_cap_action text NOT NULL DEFAULT 'reject';
