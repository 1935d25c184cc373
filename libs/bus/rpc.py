"""Commands as core NATS request/reply: one handler per subject (queue group = service), typed
errors carried back, timeouts on the caller's side.

A command's class says it all (``proto.base.Command``): a caller writes ``await rpc.call(EvaluateSend(...))``
and gets a ``SendDecision``; a service serves ``{EvaluateSend: handler, ...}`` (its registry, in its
rpc.py). Subjects and decoders follow from the classes, worked out once per class."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import asyncpg
import msgspec
import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from libs.obs.metrics import RPC_LATENCY
from libs.obs.tracing import inject_headers, server_span
from proto.base import Command, CommandError, ErrorBody
from proto.subjects import Subjects

log = structlog.get_logger(__name__)

R = TypeVar("R")


class _Reply(msgspec.Struct, frozen=True):
    ok: bool
    data: msgspec.Raw = msgspec.Raw(b"null")
    error: ErrorBody | None = None


_enc = msgspec.json.Encoder()
class TransientError(Exception):
    """A failure a retry clears (another writer got there first, a resource is busy): a command that
    ends in one answers 503 SERVICE_UNAVAILABLE, never INTERNAL."""


TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,  # connection refused or reset; TimeoutError too (a pool or a statement waited too long)
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, query canceled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby, mid failover
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock: a retry will do
    nats.errors.Error,  # this service's own NATS requests and publishes (a backing service, JetStream)
)
"""Faults of the database or the bus while a command runs: answered 503 SERVICE_UNAVAILABLE (retry),
never 500."""
_reply_dec = msgspec.json.Decoder(_Reply)

Handler = Callable[[Any], Awaitable[Any]]
"""Takes the command, answers its reply type (``Command[R]`` -> ``R``) or raises ``CommandError``."""


@dataclass(frozen=True)
class Bounded:
    """A handler with its own concurrency limit (a hot command, e.g. the send gate's)."""

    handler: Handler
    concurrency: int


Registry = Mapping[type[Command[Any]], Handler | Bounded]
"""What a service serves: each command class with its handler."""


def check_handler(command: type[Command[Any]], handler: Handler) -> None:
    """Raise TypeError when the handler's annotated answer is not the command's reply type (a subclass
    of it will do). mypy cannot see through a registry's mapping; this sees what the annotations say."""
    try:
        answers = typing.get_type_hints(handler).get("return", Any)
    except (NameError, TypeError):
        return  # annotations that name what only a type checker imports: nothing to compare
    reply = command.reply_type()
    if answers is Any or answers == reply or (
            isinstance(answers, type) and isinstance(reply, type) and issubclass(answers, reply)):
        return
    raise TypeError(f"{getattr(handler, '__qualname__', handler)} answers {answers}, but {command.__name__} "
                    f"is a Command[{reply}]")


def fault_of(exc: Exception, domain: str, command: str) -> tuple[ErrorBody, str]:
    """The error a command that raised ``exc`` answers, and its outcome for the latency histogram."""
    if isinstance(exc, (msgspec.ValidationError, msgspec.DecodeError)):
        return ErrorBody(code="VALIDATION_ERROR", message=str(exc)), "invalid"
    if isinstance(exc, CommandError):
        return exc.body(), exc.code
    if isinstance(exc, TRANSIENT):
        # the database or the bus is restarting or unreachable: a retry will do, say so
        log.warning("command_unavailable", command=command, error=repr(exc))
        return ErrorBody(code="SERVICE_UNAVAILABLE", message=f"{domain} cannot reach its database or the bus; retry",
                         status=503, details={"service": domain}), "unavailable"
    if isinstance(exc, asyncpg.DataError):
        # a value the database refuses (out of range, not a UUID...) that validation let through: the
        # request's fault, answered as such, and logged to be fixed there
        log.warning("command_data_error", command=command, error=repr(exc))
        return ErrorBody(code="VALIDATION_ERROR", message="a value in the request is out of range or malformed",
                         status=400), "invalid"
    log.error("command_failed", command=command, error=repr(exc), exc_info=exc)
    return ErrorBody(code="INTERNAL", message="internal error", status=500), "error"


async def _answer(handler: Handler, decoder: msgspec.json.Decoder[Any], data: bytes, domain: str,
                  subject: str) -> tuple[bytes, str]:
    """The reply to one request, and its outcome for the latency histogram."""
    try:
        result = await handler(decoder.decode(data))
        return _enc.encode({"ok": True, "data": result}), "ok"
    except Exception as exc:
        error, outcome = fault_of(exc, domain, subject)
        return _enc.encode({"ok": False, "error": error}), outcome


class RpcServer:
    """Serves commands with bounded concurrency per subject: a slow request never holds up the next,
    and a full house leaves the rest in the subscription's queue (back-pressure, not unbounded tasks)."""

    def __init__(self, nc: Client, subjects: Subjects, service: str, concurrency: int = 64):
        self.nc = nc
        self.subjects = subjects
        self.service = service
        self.concurrency = concurrency
        self._subs: list[Subscription] = []
        self._running: set[asyncio.Task[None]] = set()

    async def serve(self, registry: Registry) -> None:
        """Answer each command of the registry on its subject (``<root>.cmd.<DOMAIN>.<NAME>``). A handler
        annotated to answer something else than its command's reply type is refused here, at start-up."""
        for command, entry in registry.items():
            handler, limit = (entry.handler, entry.concurrency) if isinstance(entry, Bounded) else (entry, None)
            check_handler(command, handler)
            await self._serve(command, handler, limit)

    async def _serve(self, command: type[Command[Any]], handler: Handler, concurrency: int | None) -> None:
        domain = command.DOMAIN
        subject = self.subjects.command(domain, command.NAME)
        decoder = msgspec.json.Decoder(command)
        slots = asyncio.Semaphore(concurrency or self.concurrency)
        span_name = f"cmd {domain}.{command.NAME}"
        latency: dict[str, Any] = {}  # labelled histogram children, looked up once

        async def one(msg: Msg) -> None:
            started = time.perf_counter()
            outcome = "error"
            try:
                with server_span(span_name, msg.headers):
                    payload, outcome = await _answer(handler, decoder, msg.data, domain, subject)
                if msg.reply:
                    with contextlib.suppress(Exception):
                        await msg.respond(payload)
            finally:
                slots.release()
                child = latency.get(outcome)
                if child is None:
                    child = latency[outcome] = RPC_LATENCY.labels(subject, outcome)
                child.observe(time.perf_counter() - started)

        async def on_msg(msg: Msg) -> None:
            await slots.acquire()
            task = asyncio.create_task(one(msg))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

        self._subs.append(await self.nc.subscribe(subject, queue=self.service, cb=on_msg))

    async def close(self) -> None:
        """Stop taking requests, then let the ones in hand finish (bounded)."""
        for s in self._subs:
            with contextlib.suppress(Exception):
                await s.unsubscribe()
        if self._running:
            await asyncio.wait(list(self._running), timeout=5)


class _Route(NamedTuple):
    subject: str
    domain: str
    reply: msgspec.json.Decoder[Any]


class RpcClient:
    """Requests share one reply subscription (``<inbox>.*``) and carry a counter as their token.

    nats-py's own ``request`` does the same multiplexing but draws each token from the OS's random
    source and arms ``asyncio.wait_for``: together a tenth of a gateway's CPU per request. A command
    class's subject and reply decoder are worked out at its first call and kept (one dict lookup after)."""

    def __init__(self, nc: Client, subjects: Subjects, default_timeout: float = 5.0):
        self.nc = nc
        self.subjects = subjects
        self.default_timeout = default_timeout
        self._prefix = ""
        self._pending: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count()
        self._subscribing: asyncio.Lock | None = None
        self._routes: dict[type[Command[Any]], _Route] = {}

    async def _reply_prefix(self) -> str:
        if self._subscribing is None:
            self._subscribing = asyncio.Lock()
        async with self._subscribing:
            if not self._prefix:
                prefix = self.nc.new_inbox() + "."
                await self.nc.subscribe(prefix + "*", cb=self._on_reply)
                self._prefix = prefix
        return self._prefix

    async def _on_reply(self, msg: Msg) -> None:
        fut = self._pending.get(msg.subject[len(self._prefix):])
        if fut is not None and not fut.done():
            fut.set_result(msg)

    @staticmethod
    def _expire(fut: asyncio.Future[Msg]) -> None:
        if not fut.done():
            fut.set_exception(NatsTimeout())

    async def request(self, subject: str, payload: bytes, timeout: float,
                      headers: dict[str, str] | None = None) -> Msg:
        prefix = self._prefix or await self._reply_prefix()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Msg] = loop.create_future()
        self._pending[token] = fut
        timer = loop.call_later(timeout, self._expire, fut)
        try:
            await self.nc.publish(subject, payload, reply=prefix + token, headers=headers)
            msg = await fut
        finally:
            timer.cancel()
            del self._pending[token]
        if msg.headers and msg.headers.get("Status") == "503":
            raise NoRespondersError
        return msg

    def _route(self, command: type[Command[Any]]) -> _Route:
        route = _Route(self.subjects.command(command.DOMAIN, command.NAME), command.DOMAIN,
                       msgspec.json.Decoder(command.reply_type()))
        self._routes[command] = route
        return route

    async def call(self, command: Command[R], *, timeout: float | None = None) -> R:
        """The command's answer (``Command[R]`` -> ``R``); its ``CommandError`` raised here."""
        route = self._routes.get(type(command)) or self._route(type(command))
        domain = route.domain
        headers = inject_headers({})
        try:
            msg = await self.request(route.subject, _enc.encode(command), timeout or self.default_timeout,
                                     headers or None)
        except NoRespondersError as exc:
            raise CommandError(
                "SERVICE_UNAVAILABLE", f"{domain} is not available, try again", 503, {"service": domain}
            ) from exc
        except NatsTimeout as exc:
            raise CommandError(
                "SERVICE_TIMEOUT", f"{domain} did not answer in time, try again", 503, {"service": domain}
            ) from exc
        reply = _reply_dec.decode(msg.data)
        if not reply.ok:
            assert reply.error is not None
            raise CommandError.from_body(reply.error)
        result: R = route.reply.decode(reply.data)
        return result
