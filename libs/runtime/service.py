"""One bootstrap for every service: NATS, Postgres, migrations, stream, relay, commands, consumers,
health/readiness/metrics over HTTP, and a clean stop on SIGTERM within 10 s."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.bus.conn import connect, ensure_stream, tls_context
from libs.bus.consumer import ConsumerRunner, ConsumerSpec
from libs.bus.rpc import TRANSIENT, RpcClient, RpcServer
from libs.obs.collect import OUTBOX, GaugeQuery
from libs.obs.logging import configure_logging
from libs.obs.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_PENDING,
    CONSUMER_REDELIVERED,
    HTTP_LATENCY,
    OUTBOX_LAG,
    OUTBOX_PENDING,
)
from libs.obs.settings import CommonSettings
from libs.obs.tracing import configure_tracing
from libs.store.archive import archive_finished
from libs.store.db import create_pool, migrate, pending_migrations
from libs.store.eventstore import EventStore
from libs.store.relay import Relay
from proto.subjects import StreamSpec, Subjects

log = structlog.get_logger(__name__)


_UNMEASURED = ("/v1/", "/metrics", "/healthz", "/readyz")
"""The gateway measures its API (/v1/...) itself, under the same series; probes and scrapes are noise."""


@web.middleware
async def _http_metrics(request: web.Request, handler: Any) -> web.StreamResponse:
    """am_http_seconds for a service's own HTTP endpoints (carrier callbacks, docs), by route and status."""
    if request.path.startswith(_UNMEASURED):
        return await handler(request)  # type: ignore[no-any-return]
    started = time.perf_counter()
    status = 500
    try:
        resp: web.StreamResponse = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    except TRANSIENT as exc:  # the database or the bus is away: the caller (a carrier) retries, never a 500
        status = 503
        log.warning("http_unavailable", path=request.path, error=repr(exc))
        return web.json_response({"error": "unavailable, retry"}, status=503, headers={"Retry-After": "1"})
    finally:
        route = request.match_info.route.resource
        path = route.canonical if route is not None else "unmatched"
        HTTP_LATENCY.labels(f"{request.method} {path}", str(status)).observe(time.perf_counter() - started)


class Service:
    """A running service. ``setup`` hooks register commands, consumers, routes and tasks."""

    def __init__(
        self,
        name: str,
        settings: CommonSettings,
        *,
        domain: str | None,
        sql_dir: Path | None = None,
        uses_db: bool = True,
    ):
        self.name = name
        self.settings = settings
        self.domain = domain
        self.sql_dir = sql_dir
        self.uses_db = uses_db
        self.subjects = Subjects(settings.subject_root)
        self.schema = self.subjects.schema(name)
        self.http = web.Application(client_max_size=1024 * 1024, middlewares=[_http_metrics])
        self.http.router.add_get("/healthz", self._healthz)
        self.http.router.add_get("/readyz", self._readyz)
        if settings.metrics_port <= 0:
            self.http.router.add_get("/metrics", self._metrics)
        self._metrics_runner: web.AppRunner | None = None
        self._consumer_specs: list[ConsumerSpec] = []
        self._consumers: list[ConsumerRunner] = []
        self._task_factories: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._on_reconnect: list[Callable[[], None]] = []
        self._runner: web.AppRunner | None = None
        self._gauge_queries: list[GaugeQuery] = []
        self.port = 0
        self.nc: Client
        self.pool: asyncpg.Pool
        self.store: EventStore
        self.rpc: RpcClient
        self.rpc_server: RpcServer
        self.relay: Relay | None = None
        self.ready = False
        self.ready_checks: dict[str, Callable[[], bool]] = {}
        """Service-specific readiness (e.g. an upstream connection bound), by name."""

    # -- registration (before start) -------------------------------------------------------------
    def consumer(self, spec: ConsumerSpec) -> None:
        self._consumer_specs.append(spec)

    def task(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._task_factories.append(factory)

    def on_stop(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(fn)

    def on_reconnect(self, fn: Callable[[], None]) -> None:
        """``fn`` runs after each NATS reconnect (a cache evicted by core NATS events forgets all)."""
        self._on_reconnect.append(fn)

    def _reconnected(self) -> None:
        for fn in self._on_reconnect:
            fn()

    def gauge_query(self, query: GaugeQuery) -> None:
        """Refresh these gauges from the service's database every AM_METRICS_INTERVAL_S."""
        self._gauge_queries.append(query)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, setup: Callable[[Service], Awaitable[None]] | None = None) -> None:
        configure_logging(self.name, self.settings.log_level)
        configure_tracing(self.name)
        st = self.settings
        self.nc = await connect(st.nats_url, f"am-{self.name}", st.nats_user, st.nats_password,
                                tls_context(st.nats_tls_ca, st.nats_tls_cert, st.nats_tls_key),
                                reconnected=self._reconnected)
        self.rpc = RpcClient(self.nc, self.subjects)
        self.rpc_server = RpcServer(self.nc, self.subjects, self.name)
        if self.uses_db:
            self.pool = await create_pool(self.settings.database_url, self.schema, self.settings.db_pool_max,
                                          min_size=self.settings.db_pool_min,
                                          pgbouncer=self.settings.db_pgbouncer)
            await migrate(self.pool, self.schema, self.sql_dir)
            if self.domain:
                self.relay = Relay(self.pool, self.nc, self.schema, self.name)
            # the relay is the store's waker: writes here wake it at commit while it leads
            self.store = EventStore(self.pool, self.schema, self.subjects, self.name, waker=self.relay)
        if self.domain and self.uses_db:
            await self._ensure_stream(self.domain)
            assert self.relay is not None
            self.relay.start()
            self.gauge_query(GaugeQuery(f"SELECT '{self.name}' AS service, o.* FROM ({OUTBOX}) o",
                                        {"pending": OUTBOX_PENDING, "lag": OUTBOX_LAG}, ("service",)))
        if setup is not None:
            await setup(self)
        for spec in self._consumer_specs:
            # the producer may not have started yet: make sure its stream exists
            await self._ensure_stream(spec.domain)
            runner = ConsumerRunner(self.nc, self.subjects, self.pool if self.uses_db else None, spec)
            await runner.start()
            self._consumers.append(runner)
        if self.settings.metrics_interval_s > 0:
            self._task_factories.append(self._collect_gauges)
        if self.uses_db and self.settings.events_archive_after_days > 0:
            self._task_factories.append(self._archive_events)
        for factory in self._task_factories:
            self._tasks.append(asyncio.create_task(self._guard(factory)))
        if self.settings.metrics_port > 0:  # /metrics on a port of its own, never the public one
            metrics_app = web.Application()
            metrics_app.router.add_get("/metrics", self._metrics)
            self._metrics_runner = web.AppRunner(metrics_app, access_log=None, handle_signals=False)
            await self._metrics_runner.setup()
            await web.TCPSite(self._metrics_runner, self.settings.http_host, self.settings.metrics_port,
                              reuse_address=True).start()
        # in-flight requests (a long poll) get a few seconds, so a stop stays well inside 10 s
        self._runner = web.AppRunner(self.http, access_log=None, handle_signals=False, shutdown_timeout=3.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.ready = True
        log.info("service_started", port=self.port, schema=self.schema if self.uses_db else None)

    async def _ensure_stream(self, domain: str) -> None:
        s = self.settings
        await ensure_stream(self.nc, self.subjects, StreamSpec(domain), s.stream_replicas,
                            max_age_s=s.stream_max_age_days * 86400.0, max_bytes=s.stream_max_bytes,
                            update_limits=s.stream_update_limits)

    async def _collect_gauges(self) -> None:
        """Outbox lag, consumer pending/redelivered and the services' own backlogs, every interval."""
        js = self.nc.jetstream()
        while True:
            for q in self._gauge_queries:
                try:
                    await q.collect(self.pool)
                except Exception as exc:  # a slow or absent database: the gauges keep their last value
                    log.warning("gauge_query_failed", error=repr(exc))
            for runner in self._consumers:
                stream, durable = self.subjects.stream_name(runner.spec.domain), runner.spec.durable
                try:
                    info = await js.consumer_info(stream, durable, timeout=5)
                except Exception as exc:
                    log.warning("consumer_info_failed", stream=stream, durable=durable, error=repr(exc))
                    continue
                CONSUMER_PENDING.labels(stream, durable).set(info.num_pending or 0)
                CONSUMER_ACK_PENDING.labels(stream, durable).set(info.num_ack_pending or 0)
                CONSUMER_REDELIVERED.labels(stream, durable).set(info.num_redelivered or 0)
            await asyncio.sleep(self.settings.metrics_interval_s)

    async def _archive_events(self) -> None:
        """AM_EVENTS_ARCHIVE_AFTER_DAYS: finished streams' old events to ``events_archive``, periodically."""
        while True:
            await archive_finished(self.pool, self.schema, self.settings.events_archive_after_days)
            await asyncio.sleep(self.settings.events_archive_interval_s)

    async def _guard(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Background loops restart after a crash instead of dying silently."""
        delay = 0.5
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("background_task_crashed", task=getattr(factory, "__name__", "?"), error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        self.ready = False
        if self._runner is not None:
            await self._runner.cleanup()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        await self.rpc_server.close()
        await asyncio.gather(*(c.stop() for c in self._consumers))
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            # a loop may swallow one cancellation (asyncio.wait_for on 3.11 does when its wait ends at the
            # same moment): ask again rather than wait for ever
            while not t.done():
                await asyncio.wait({t}, timeout=1.0)
                if not t.done():
                    log.warning("task_still_running_after_cancel", task=t.get_name())
                    t.cancel()
            with contextlib.suppress(BaseException):
                t.result()
        for fn in self._on_stop:
            with contextlib.suppress(Exception):
                await fn()
        if self.relay is not None:
            await self.relay.stop()
            with contextlib.suppress(Exception):  # flush what committed meanwhile; the next start would too
                await asyncio.wait_for(self.relay.flush(), 2)
        with contextlib.suppress(Exception):
            await self.nc.drain()
        if self.uses_db:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
        log.info("service_stopped")

    # -- health ------------------------------------------------------------------------------------
    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": self.name})

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"nats": self.nc.is_connected}
        if self.uses_db:
            try:
                async with self.pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1")
                checks["postgres"] = True
                checks["migrations"] = await pending_migrations(self.pool, self.sql_dir) == 0
            except Exception:
                checks["postgres"] = False
        checks["started"] = self.ready
        for name, check in self.ready_checks.items():
            checks[name] = check()
        return checks

    async def _readyz(self, _: web.Request) -> web.Response:
        checks = await self.readiness()
        ok = all(bool(v) for v in checks.values())
        return web.json_response({"ready": ok, "checks": checks}, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def run(service: Service, setup: Callable[[Service], Awaitable[None]]) -> None:
    """Run until SIGTERM/SIGINT, then stop within 10 s."""

    async def main() -> None:
        stop = stop_signal()
        await service.start(setup)
        settle_heap()
        await stop.wait()
        log.info("service_stopping")
        try:
            await asyncio.wait_for(service.stop(), 10)
        except TimeoutError:
            log.error("service_stop_timeout")

    run_loop(main())


def settle_heap() -> None:
    """Move what start-up built (modules, phonenumbers' metadata, compiled schemas) out of the
    collector's sight and collect the young generation less often: full collections then walk only
    what requests allocate, and stop the loop for far less time (a p99 matter, not an average one)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run on uvloop when it is installed (it is, from the lock file): aiohttp and nats-py spend most
    of their time in the event loop, and uvloop roughly halves that cost."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def stop_signal() -> asyncio.Event:
    """An event SIGTERM or SIGINT sets (call it inside the running loop): what a process waits on to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
