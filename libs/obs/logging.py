"""One structlog configuration: JSON to stdout when not a TTY, pretty when it is."""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec
import structlog
from opentelemetry import trace

_SECRET_KEYS = ("password", "secret", "api_key", "authorization", "token")


def _enc_hook(obj: Any) -> Any:
    return str(obj)


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def _dumps(obj: Any, default: Any = None) -> str:
    return _encoder.encode(obj).decode()


class _Stdout:
    """Standard output as it is when a line is written, not as it was when logging was configured (a
    test session swaps ``sys.stdout`` per test and closes the old one: a logger bound to it raised
    ``ValueError`` from any later log call, killing the task that logged)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Never log secrets, whatever a caller binds."""
    for key in list(event_dict):
        if any(s in key.lower() for s in _SECRET_KEYS) and key != "event":
            event_dict[key] = "[redacted]"
    return event_dict


def _add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """trace_id and span_id of the OpenTelemetry context the line is logged in (the request or message
    being handled), so a log line leads to its trace and to every other line of the same request."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def configure_logging(service: str, level: str = "info") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_trace_ids,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        structlog.processors.format_exc_info,
    ]
    renderer: Any
    if sys.stdout.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(_Stdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,  # a lazy proxy otherwise rebuilds the logger on every call
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
