"""am.cmd.compliance.* endpoints.

evaluate_send is on every send's path (twice: at accept and at submit), so it is served with bounded
concurrency: the runtime's RpcServer awaits one request at a time per subject, which would cap the gate
at 1 / latency. Same wire format (``{"ok", "data" | "error"}``), same queue group."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import structlog
from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry.trace import Tracer
from prometheus_client import Histogram

from libs.obs.metrics import RPC_LATENCY
from libs.obs.tracing import extract_context, tracer
from libs.runtime.service import Service
from proto.base import CommandError, ErrorBody
from proto.commands import compliance as c
from services.compliance.handlers import Compliance
from services.compliance.views import Views

log = structlog.get_logger(__name__)
T = TypeVar("T")
_enc = msgspec.json.Encoder()


async def serve_concurrently(svc: Service, command: str, request_type: type[T],
                             handler: Callable[[T], Awaitable[Any]], limit: int) -> None:
    subject = svc.subjects.command("compliance", command)
    decoder = msgspec.json.Decoder(request_type)
    slots = asyncio.Semaphore(limit)
    running: set[asyncio.Task[None]] = set()
    span_name = f"cmd compliance.{command}"
    # per-request costs that need not be: the tracer and the labelled histogram children are looked up once
    tracers: list[Tracer] = []
    latency: dict[str, Histogram] = {}

    async def one(msg: Msg) -> None:
        started = time.perf_counter()
        outcome = "ok"
        token = otel_context.attach(extract_context(msg.headers))  # type: ignore[arg-type]
        try:
            if not tracers:
                tracers.append(tracer())
            with tracers[0].start_as_current_span(span_name):
                try:
                    payload = _enc.encode({"ok": True, "data": await handler(decoder.decode(msg.data))})
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    outcome = "invalid"
                    payload = _enc.encode({"ok": False, "error": ErrorBody(code="VALIDATION_ERROR", message=str(exc))})
                except CommandError as exc:
                    outcome = exc.code
                    payload = _enc.encode({"ok": False, "error": exc.body()})
                except Exception as exc:
                    outcome = "error"
                    log.exception("command_failed", command=subject, error=repr(exc))
                    payload = _enc.encode({"ok": False, "error": ErrorBody(code="INTERNAL", message="internal error",
                                                                          status=500)})
            if msg.reply:
                with contextlib.suppress(Exception):
                    await msg.respond(payload)
        finally:
            otel_context.detach(token)
            slots.release()
            child = latency.get(outcome)
            if child is None:
                child = latency[outcome] = RPC_LATENCY.labels(subject, outcome)
            child.observe(time.perf_counter() - started)

    async def on_msg(msg: Msg) -> None:
        await slots.acquire()  # a full house leaves the rest in the subscription's queue
        task = asyncio.create_task(one(msg))
        running.add(task)
        task.add_done_callback(running.discard)

    sub = await svc.nc.subscribe(subject, queue=svc.name, cb=on_msg)

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if running:
            await asyncio.wait(list(running), timeout=5)

    svc.on_stop(stop)


async def register(svc: Service, h: Compliance, v: Views) -> None:
    await serve_concurrently(svc, "evaluate_send", c.EvaluateSend, h.evaluate_send, h.settings.gate_concurrency)

    async def record_consent(cmd: c.RecordConsent) -> c.ConsentView:
        return await v.consent(cmd.org_id, await h.record_consent(cmd))

    async def revoke_consent(cmd: c.RevokeConsent) -> c.ConsentView:
        return await v.consent(cmd.org_id, await h.revoke_consent(cmd))

    r = svc.rpc_server
    await r.register("request_double_opt_in", c.RequestDoubleOptIn, h.request_double_opt_in)
    await r.register("record_consent", c.RecordConsent, record_consent)
    await r.register("revoke_consent", c.RevokeConsent, revoke_consent)
    await r.register("get_consent", c.GetConsent, v.get_consent)
    await r.register("list_consent", c.ListConsent, v.list_consent)
    await r.register("export_consent", c.ExportConsent, v.export)
    await r.register("get_settings", c.GetSettings, v.get_settings)
    await r.register("update_settings", c.UpdateSettings, v.update_settings)
