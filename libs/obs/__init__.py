"""Observability and settings: env parsing, structlog, OpenTelemetry, Prometheus."""
