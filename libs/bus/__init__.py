"""NATS: connect, stream provisioning, durable pull consumers, command request/reply."""
