"""outbound: the message lifecycle — accept (gate, credit), queue, shape, submit to the carrier, track
receipts to a terminal status, and tell the customer by signed status callbacks."""
