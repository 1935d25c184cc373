-- A campaign's own opt-in keywords (e.g. JOIN) and the reply they get, learnt from its events as its
-- opt-out and help keywords are.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS opt_in_keywords text[] NOT NULL DEFAULT '{}';
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS opt_in_message text NOT NULL DEFAULT '';
