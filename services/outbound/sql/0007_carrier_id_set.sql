-- A message's carrier id is looked up only for a receipt that lost our reference (carrier_receipts.py), and
-- only a message that was sent has one. The full index took an entry for every version of every message —
-- queued, sending, sent, delivered: each status change is a new row version in every index it is in —
-- for ids that are NULL until the message is sent. Partial, it takes entries only once there is an id.
CREATE INDEX IF NOT EXISTS messages_carrier_id_set ON messages (carrier_message_id)
    WHERE carrier_message_id IS NOT NULL;
DROP INDEX IF EXISTS messages_carrier_id;
