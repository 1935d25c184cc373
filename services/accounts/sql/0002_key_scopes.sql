-- Scopes and caps of an API key (issue 19). NULL scopes: every scope (older keys, signup's key).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS scopes text[];
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS caps jsonb;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
