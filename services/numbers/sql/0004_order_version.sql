-- number_orders is the NumberOrder aggregate's projection: its row's version is its stream's (0: an order
-- placed before the aggregate had events; its later events start its stream).
ALTER TABLE number_orders ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;
