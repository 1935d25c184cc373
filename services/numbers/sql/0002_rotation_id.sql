-- The caller-chosen id of a number's last webhook-secret rotation (derived from an Idempotency-Key): a
-- repeat of that rotation answers with the number as it left it instead of rotating twice.
ALTER TABLE phone_numbers ADD COLUMN IF NOT EXISTS last_rotation_id uuid;
