"""gateway: the HTTP edge. Auth, validation, rate limits, idempotency, OpenAPI; nothing durable."""
