-- Sent messages by when they were sent: those whose final receipt never came are found here and
-- closed as undelivered (DELIVERY_UNCONFIRMED) once the receipt timeout has passed.
CREATE INDEX IF NOT EXISTS messages_awaiting_receipt ON messages (updated_at) WHERE status = 'sent';
