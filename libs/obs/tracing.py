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
    """Install a provider once. The standard ``OTEL_*`` variables are honoured: ``OTEL_SERVICE_NAME`` and
    ``OTEL_RESOURCE_ATTRIBUTES`` (else service.name is ``agentmessage-<service>``), export over OTLP/HTTP
    when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (with the
    exporter's own ``OTEL_EXPORTER_OTLP_*`` headers, timeout, compression), ``OTEL_TRACES_SAMPLER`` /
    ``OTEL_TRACES_SAMPLER_ARG``, and ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` to not export."""
    global _configured, _recording
    if _configured:
        return
    env = os.environ
    exporting = (
        bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        and env.get("OTEL_SDK_DISABLED", "").lower() != "true"
        and env.get("OTEL_TRACES_EXPORTER", "otlp").lower() != "none"
    )
    named = bool(env.get("OTEL_SERVICE_NAME")) or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; attributes given here win
    resource = Resource.create({} if named else {"service.name": f"agentmessage-{service}"})
    # Without an exporter nobody reads the spans: keep them non-recording (cheap) but still with
    # valid ids, so traceparent is propagated across NATS and HTTP (and logged) either way.
    sampler = None if exporting and env.get("OTEL_TRACES_SAMPLER") else ParentBased(ALWAYS_ON if exporting else ALWAYS_OFF)
    provider = TracerProvider(resource=resource, sampler=sampler)
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _recording = exporting
    _tracers.clear()
    _configured = True


def resource_service_name() -> str:
    """The service.name spans are exported under (for tests and logs)."""
    provider = trace.get_tracer_provider()
    resource = getattr(provider, "resource", None)
    return str(resource.attributes.get("service.name", "")) if resource is not None else ""


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
