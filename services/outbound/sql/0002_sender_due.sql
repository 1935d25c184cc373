-- The dispatcher's candidate query skips from sending number to sending number through this index and
-- reads each number's first due messages from it, so a long backlog does not make every round slower.
CREATE INDEX IF NOT EXISTS messages_sender_due ON messages (from_number, next_attempt_at, created_at)
    WHERE status IN ('queued', 'sending');
