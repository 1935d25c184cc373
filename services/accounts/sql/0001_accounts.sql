CREATE TABLE IF NOT EXISTS organizations (
    id         uuid PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id            uuid PRIMARY KEY,
    org_id        uuid        NOT NULL REFERENCES organizations(id),
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id           uuid PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations(id),
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    key_hash     text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys (org_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS balances (
    org_id          uuid PRIMARY KEY REFERENCES organizations(id),
    available_micros bigint NOT NULL CHECK (available_micros >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
    id             text PRIMARY KEY,
    org_id         uuid        NOT NULL,
    amount_micros  bigint      NOT NULL,
    state          text        NOT NULL,
    reason         text        NOT NULL,
    reference      text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    id             uuid PRIMARY KEY,
    org_id         uuid        NOT NULL,
    kind           text        NOT NULL,
    amount_micros  bigint      NOT NULL,
    reason         text        NOT NULL,
    reference      text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_org ON ledger (org_id, created_at DESC, id DESC);
