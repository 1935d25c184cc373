-- When the contact's text that last changed its state (STOP, START, the YES to a double opt-in) reached
-- the carrier: a keyword text received before it changes nothing (ContactState.said_at).
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS said_at timestamptz;
