-- The attempt that holds a submission's 'writing' marker: only that attempt refreshes or clears it, and
-- for an upstream not safe to ask twice no other attempt may take it while it is there.
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS attempt uuid;
