"""Commands over NATS request/reply: typed errors, timeouts, and the trace carried across."""

from __future__ import annotations

import asyncio

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


async def test_database_and_bus_faults_answer_503_and_refused_values_400(nats_url: str, subject_root: str,
                                                                        database_url: str) -> None:
    """A handler that meets a fault of the database (real PostgreSQL errors: the server shutting down, a
    read-only standby, too many connections) or of the bus answers the typed SERVICE_UNAVAILABLE (503, a
    retry will do), never INTERNAL; a value the database refuses answers VALIDATION_ERROR (400)."""
    import asyncpg
    import nats.errors

    from libs.store.eventstore import ConcurrencyError

    nc = await nats.connect(nats_url)
    subjects = Subjects(subject_root)
    server = RpcServer(nc, subjects, "demo", "demo")
    from libs.store.db import ensure_database

    for _ in range(300):  # a server of this session may still be starting up
        try:
            await ensure_database(database_url)
            conn = await asyncpg.connect(database_url)
            break
        except asyncpg.CannotConnectNowError:
            await asyncio.sleep(0.1)
    faults: list[BaseException] = [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        nats.errors.ConnectionClosedError(),
        ConcurrencyError("contact-1", 3),  # another writer kept winning: a retry will do
        TimeoutError(),
    ]

    async def ping(cmd: Ping) -> Pong:
        if cmd.n >= 0:
            raise faults[cmd.n]
        await conn.fetchval("SELECT $1::text::uuid", "not a uuid")  # the database refuses it
        return Pong(0, 0)

    await server.register("ping", Ping, ping)
    client = RpcClient(nc, subjects)
    try:
        for i in range(len(faults)):
            with pytest.raises(CommandError) as err:
                await client.call("demo", "ping", Ping(n=i), Pong)
            assert (err.value.code, err.value.status) == ("SERVICE_UNAVAILABLE", 503), faults[i]
        with pytest.raises(CommandError) as err:
            await client.call("demo", "ping", Ping(n=-1), Pong)
        assert (err.value.code, err.value.status) == ("VALIDATION_ERROR", 400)
    finally:
        await conn.close()
        await server.close()
        await nc.close()
