"""OpenTelemetry: a tracer provider, W3C traceparent carried in NATS and HTTP headers."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

_configured = False


def configure_tracing(service: str) -> None:
    """Install a provider once; export over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    global _configured
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
