-- An organization's messages still on their way (GET /v1/messages?status=queued,sending,…): without it,
-- listing by a pending status read every message the organization ever sent (the org index, then a
-- filter) — 2 ms at 2,500 messages, growing without bound; and PostgreSQL, seeing that statement's
-- custom plans cost as much as the generic one, switched the shared list statement to the generic plan,
-- which reads and sorts all of them even for an unfiltered first page. Small: delivered, failed and
-- canceled messages leave it.
CREATE INDEX IF NOT EXISTS messages_org_pending ON messages (org_id, created_at DESC, id DESC)
    WHERE status IN ('scheduled', 'queued', 'sending', 'sent');
