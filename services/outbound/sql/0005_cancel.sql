-- What deferred a scheduled message, as the names of the gate's checks that said "defer" (e.g.
-- quiet_hours), comma separated; NULL when only the client's send_at holds it. Turning quiet hours off
-- releases the messages that quiet hours alone held.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS deferred_by text;
-- An organization's pending messages by sending number (a released number's are canceled) and its
-- scheduled ones (re-evaluated when its quiet-hours policy changes).
CREATE INDEX IF NOT EXISTS messages_number_pending ON messages (phone_number_id)
    WHERE status IN ('scheduled', 'queued');
CREATE INDEX IF NOT EXISTS messages_org_scheduled ON messages (org_id) WHERE status = 'scheduled';
