"""Commands over NATS request/reply: typed errors, timeouts, and the trace carried across."""

from __future__ import annotations

import msgspec
import nats
import pytest
from opentelemetry import trace

from libs.bus.rpc import RpcClient, RpcServer
from libs.obs.tracing import configure_tracing, tracer
from proto.base import Command, CommandError
from proto.subjects import Subjects


class Ping(Command, frozen=True, kw_only=True):
    n: int


class Pong(msgspec.Struct):
    n: int
    trace_id: int


async def test_rpc_round_trip_typed_error_and_trace(nats_url: str, subject_root: str) -> None:
    configure_tracing("test")
    nc = await nats.connect(nats_url)
    subjects = Subjects(subject_root)
    server = RpcServer(nc, subjects, "demo", "demo")

    async def ping(cmd: Ping) -> Pong:
        if cmd.n < 0:
            raise CommandError("NEGATIVE", "n must not be negative", 400, {"field": "n"})
        return Pong(cmd.n + 1, trace.get_current_span().get_span_context().trace_id)

    await server.register("ping", Ping, ping)
    client = RpcClient(nc, subjects)
    with tracer().start_as_current_span("caller") as span:
        pong = await client.call("demo", "ping", Ping(n=1), Pong)
    assert pong.n == 2
    assert pong.trace_id == span.get_span_context().trace_id  # the trace crossed NATS
    with pytest.raises(CommandError) as err:
        await client.call("demo", "ping", Ping(n=-1), Pong)
    assert (err.value.code, err.value.status, err.value.details) == ("NEGATIVE", 400, {"field": "n"})
    with pytest.raises(CommandError) as err:
        await client.call("demo", "missing", Ping(n=1), Pong, timeout=0.5)
    assert err.value.code in ("SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT") and err.value.status == 503
    await server.close()
    await nc.close()
