"""OpenTelemetry: a tracer provider, W3C traceparent carried in NATS and HTTP headers."""

from __future__ import annotations

import contextlib
import os
import random
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


def _ids_span(parent: trace.SpanContext | None) -> trace.NonRecordingSpan:
    """A span nobody records but with real ids: the caller's trace (or a new one) and a span id of its
    own, so log lines and the traceparent sent onwards identify this hop."""
    if parent is not None and parent.is_valid:
        trace_id, flags = parent.trace_id, parent.trace_flags
    else:
        trace_id, flags = random.getrandbits(128) or 1, trace.TraceFlags(0)
    return trace.NonRecordingSpan(trace.SpanContext(trace_id, random.getrandbits(64) or 1, is_remote=False,
                                                    trace_flags=flags))


@contextlib.contextmanager
def server_span(name: str, headers: Mapping[str, str] | None) -> Iterator[trace.Span]:
    """The span of one request or message handled, child of the traceparent it came with (or the root of
    a new trace).

    Without an exporter nobody reads spans, so none is recorded: a non-recording span with the caller's
    trace id and a span id of its own is made current instead, which keeps the trace id flowing into
    every call, event and log line made from here, at a fraction of the cost of a span per hop."""
    carried = headers is not None and "traceparent" in headers
    parent_ctx = extract_context(headers) if carried else None
    if _recording:
        token = otel_context.attach(parent_ctx) if parent_ctx is not None else None  # type: ignore[arg-type]
        try:
            with tracer().start_as_current_span(name) as span:
                yield span
        finally:
            if token is not None:
                otel_context.detach(token)
        return
    # the caller's span (carried in the headers, else the one current here, if any) is the parent
    span = _ids_span(trace.get_current_span(parent_ctx).get_span_context())  # type: ignore[arg-type]
    token = otel_context.attach(trace.set_span_in_context(span, parent_ctx))  # type: ignore[arg-type]
    try:
        yield span
    finally:
        otel_context.detach(token)
