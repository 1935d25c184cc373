"""Services: separate processes that meet only on NATS; none imports another."""
