-- The reservations still held, by age: a reconciliation lists those of a reason made in a window of time
-- (ListHeldReservations), and held ones are few (a message's, until it is sent, failed or canceled).
CREATE INDEX IF NOT EXISTS reservations_held ON reservations (created_at) WHERE state = 'held';
