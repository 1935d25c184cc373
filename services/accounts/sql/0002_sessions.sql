-- Dashboard sessions: a projection of SessionStarted / SessionEnded. The token's SHA-256 is kept here
-- (written in the transaction of SessionStarted), never on the event.
CREATE TABLE IF NOT EXISTS sessions (
    id           uuid PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations(id),
    user_id      uuid        NOT NULL REFERENCES users(id),
    token_hash   text        NOT NULL UNIQUE,
    user_agent   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX IF NOT EXISTS sessions_user_live ON sessions (user_id) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_org_live ON sessions (org_id) WHERE ended_at IS NULL;
