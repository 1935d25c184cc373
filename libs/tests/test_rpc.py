"""Commands over NATS request/reply: typed errors, timeouts, and the trace carried across."""

from __future__ import annotations

import asyncio
from typing import assert_type

import msgspec
import nats
import pytest
from opentelemetry import trace

from libs.bus.rpc import Bounded, RpcClient, RpcServer
from libs.obs.tracing import configure_tracing, tracer
from proto.base import Command, CommandError
from proto.subjects import Subjects


class Pong(msgspec.Struct):
    n: int
    trace_id: int


class Ping(Command[Pong], frozen=True, kw_only=True):
    DOMAIN = "demo"
    n: int


class Missing(Command["Pong"], frozen=True, kw_only=True):
    """A command nobody serves (its reply type named before it is defined would do as well)."""

    DOMAIN = "demo"


def test_a_command_class_names_its_subject_and_reply() -> None:
    assert (Ping.DOMAIN, Ping.NAME, Ping.reply_type()) == ("demo", "ping", Pong)
    assert Missing.reply_type() is Pong
    from proto.commands.compliance import EvaluateSend, SendDecision
    from proto.commands.inbound import ListInbound

    assert (EvaluateSend.DOMAIN, EvaluateSend.NAME, EvaluateSend.reply_type()) == (
        "compliance", "evaluate_send", SendDecision)
    assert Subjects().command(ListInbound.DOMAIN, ListInbound.NAME) == "am.cmd.inbound.list"


async def test_rpc_round_trip_typed_error_and_trace(nats_url: str, subject_root: str) -> None:
    configure_tracing("test")
    nc = await nats.connect(nats_url)
    subjects = Subjects(subject_root)
    server = RpcServer(nc, subjects, "demo")

    async def ping(cmd: Ping) -> Pong:
        if cmd.n < 0:
            raise CommandError("NEGATIVE", "n must not be negative", 400, {"field": "n"})
        return Pong(cmd.n + 1, trace.get_current_span().get_span_context().trace_id)

    await server.serve({Ping: ping})
    client = RpcClient(nc, subjects)
    with tracer().start_as_current_span("caller") as span:
        pong = assert_type(await client.call(Ping(n=1)), Pong)  # mypy --strict checks the inferred type
    assert isinstance(pong, Pong) and pong.n == 2
    assert pong.trace_id == span.get_span_context().trace_id  # the trace crossed NATS
    with pytest.raises(CommandError) as err:
        await client.call(Ping(n=-1))
    assert (err.value.code, err.value.status, err.value.details) == ("NEGATIVE", 400, {"field": "n"})
    with pytest.raises(CommandError) as err:
        await client.call(Missing(), timeout=0.5)
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
    server = RpcServer(nc, subjects, "demo")
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

    await server.serve({Ping: Bounded(ping, concurrency=2)})
    client = RpcClient(nc, subjects)
    try:
        for i in range(len(faults)):
            with pytest.raises(CommandError) as err:
                await client.call(Ping(n=i))
            assert (err.value.code, err.value.status) == ("SERVICE_UNAVAILABLE", 503), faults[i]
        with pytest.raises(CommandError) as err:
            await client.call(Ping(n=-1))
        assert (err.value.code, err.value.status) == ("VALIDATION_ERROR", 400)
    finally:
        await conn.close()
        await server.close()
        await nc.close()


def test_a_command_without_a_domain_is_refused() -> None:
    with pytest.raises(TypeError, match="DOMAIN"):
        class Nowhere(Command[Pong], frozen=True, kw_only=True):
            n: int
