"""OpenTelemetry: a tracer provider, W3C traceparent carried in NATS and HTTP headers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

_configured = False
_recording = False


def configure_tracing(service: str) -> None:
    """Install a provider once; export over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    global _configured, _recording
    if _configured:
        return
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    # Without an exporter nobody reads the spans: keep them non-recording (cheap) but still with
    # valid ids, so traceparent is propagated across NATS and HTTP either way.
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"agentmessage-{service}"}),
        sampler=ParentBased(ALWAYS_ON if exporting else ALWAYS_OFF),
    )
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _recording = exporting
    _tracers.clear()
    _configured = True


_tracers: dict[str, trace.Tracer] = {}


def tracer(name: str = "agentmessage") -> trace.Tracer:
    """Cached: looking a tracer up costs tens of microseconds on every request otherwise."""
    t = _tracers.get(name)
    if t is None:
        t = _tracers[name] = trace.get_tracer(name)
    return t


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    propagate.inject(headers)
    return headers


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def extract_context(headers: Mapping[str, str] | None) -> object:
    return propagate.extract(dict(headers or {}))


@contextlib.contextmanager
def server_span(name: str, headers: Mapping[str, str] | None) -> Iterator[trace.Span]:
    """The span of one request or message handled, child of the traceparent it came with.

    Without an exporter nobody reads spans, so none is started: the caller's context is attached
    as it came, which keeps its trace id flowing into every call and event made from here, at a
    fraction of the cost of a span per hop."""
    carried = headers is not None and "traceparent" in headers
    token = otel_context.attach(extract_context(headers)) if carried else None  # type: ignore[arg-type]
    try:
        if _recording:
            with tracer().start_as_current_span(name) as span:
                yield span
        else:
            yield trace.get_current_span()
    finally:
        if token is not None:
            otel_context.detach(token)
