-- A reservation's stream version, kept on its row: a reservation released before its message was ever
-- accepted (a failed write, an orphaned hold) is held again by the send's retry, so its stream goes on
-- past version 2 (reserved 1, released 2, reserved again 3, settled 4).
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS version int;
UPDATE reservations SET version = CASE WHEN state = 'held' THEN 1 ELSE 2 END WHERE version IS NULL;
ALTER TABLE reservations ALTER COLUMN version SET DEFAULT 1, ALTER COLUMN version SET NOT NULL;
