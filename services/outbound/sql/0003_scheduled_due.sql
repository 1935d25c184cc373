-- Scheduled messages whose time came are found through an index of scheduled messages only. The
-- index over every pending status it replaces put the whole queued backlog (all due at once) in front
-- of them, so each look for a due scheduled message read the backlog through.
CREATE INDEX IF NOT EXISTS messages_scheduled_due ON messages (next_attempt_at) WHERE status = 'scheduled';
DROP INDEX IF EXISTS messages_due;
