-- The caller-chosen id of a campaign's last resubmission (derived from an Idempotency-Key): a repeat of
-- it answers with the campaign instead of 409 (it is no longer rejected) or a second submission.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS last_submission_id uuid;
