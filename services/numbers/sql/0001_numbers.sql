-- Read models of the numbers service, updated in the same transaction as the events they reflect.
-- Secrets (webhook signing keys) live only here, never on events.

CREATE TABLE IF NOT EXISTS number_orders (
    id             uuid PRIMARY KEY,
    org_id         uuid        NOT NULL,
    status         text        NOT NULL,            -- pending | completed | failed
    numbers        text[]      NOT NULL,
    amount_micros  bigint      NOT NULL,
    settled        boolean     NOT NULL DEFAULT false,  -- credit captured (completed) or released (failed)
    created_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS number_orders_unsettled ON number_orders (created_at) WHERE NOT settled;

CREATE TABLE IF NOT EXISTS phone_numbers (
    id                   uuid PRIMARY KEY,
    org_id               uuid        NOT NULL,
    e164                 text        NOT NULL,
    status               text        NOT NULL,      -- pending (claimed by an order) | active | released
    order_id             uuid        NOT NULL,
    version              integer     NOT NULL DEFAULT 0,
    friendly_name        text,
    inbound_url          text,
    status_callback_url  text,
    webhook_secret       text,
    previous_secret      text,
    previous_secret_expires_at timestamptz,
    capabilities         text[]      NOT NULL DEFAULT '{sms,mms}',
    monthly_price_micros bigint      NOT NULL,
    region               text        NOT NULL DEFAULT '',
    locality             text        NOT NULL DEFAULT '',
    campaign_id          uuid,
    created_at           timestamptz NOT NULL,
    released_at          timestamptz
);
-- One live owner per number: two organizations racing for it → exactly one claim succeeds.
CREATE UNIQUE INDEX IF NOT EXISTS phone_numbers_live_e164 ON phone_numbers (e164) WHERE status <> 'released';
CREATE INDEX IF NOT EXISTS phone_numbers_org ON phone_numbers (org_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS phone_numbers_campaign ON phone_numbers (campaign_id) WHERE campaign_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS brands (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL,
    version          integer     NOT NULL DEFAULT 0,
    entity_type      text        NOT NULL,
    display_name     text        NOT NULL,
    company_name     text,
    ein              text,
    email            text        NOT NULL,
    phone            text        NOT NULL,
    website          text,
    vertical         text,
    street           text,
    city             text,
    state            text,
    postal_code      text,
    country          text        NOT NULL,
    identity_status  text        NOT NULL,
    vetting_score    integer     NOT NULL,
    carrier_ref      text        NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS brands_org ON brands (org_id, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS campaigns (
    id                  uuid PRIMARY KEY,
    org_id              uuid        NOT NULL,
    brand_id            uuid        NOT NULL REFERENCES brands(id),
    version             integer     NOT NULL DEFAULT 0,
    status              text        NOT NULL,       -- submitting | pending_review | approved | rejected
    carrier_ref         text UNIQUE,
    use_case            text        NOT NULL,
    fields              jsonb       NOT NULL,       -- what the campaign says (description, samples, keywords...)
    status_callback_url text,
    webhook_secret      text,
    rejection_reasons   jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at          timestamptz NOT NULL,
    submitted_at        timestamptz,
    reviewed_at         timestamptz
);
CREATE INDEX IF NOT EXISTS campaigns_org ON campaigns (org_id, created_at DESC, id DESC);

-- Signed status callbacks of campaign review outcomes, delivered by a background loop with retries.
CREATE TABLE IF NOT EXISTS campaign_callbacks (
    id              uuid PRIMARY KEY,
    org_id          uuid        NOT NULL,
    campaign_id     uuid        NOT NULL,
    url             text        NOT NULL,
    body            bytea       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX IF NOT EXISTS campaign_callbacks_due ON campaign_callbacks (next_attempt_at) WHERE delivered_at IS NULL;
