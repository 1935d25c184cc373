-- The relay's to-do list: the position of every event not yet on the bus. Marking an event published
-- used to UPDATE its row (a new version of a wide row and an entry in each of its five indexes, then
-- vacuum); now a published event's position is deleted from this narrow table instead.
CREATE TABLE IF NOT EXISTS outbox (position bigint PRIMARY KEY);

-- Every append, whatever statement makes it, lists its events here (one INSERT per statement).
CREATE OR REPLACE FUNCTION outbox_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (position) SELECT position FROM appended;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER events_outbox AFTER INSERT ON events
    REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION outbox_add();

INSERT INTO outbox (position) SELECT position FROM events WHERE published_at IS NULL ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS events_unpublished;
ALTER TABLE events DROP COLUMN IF EXISTS published_at;
