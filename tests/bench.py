"""`make bench`: throughput and latency numbers, printed. Never a pass/fail test.

Runs against the embedded NATS and PostgreSQL (or AM_TEST_NATS_URL / AM_TEST_DATABASE_URL), with the
whole system started as separate processes (like `make run`) where a number is measured end to end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import nats

from libs.bus.conn import ensure_stream
from libs.embedded.servers import free_port
from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from libs.store.relay import Relay
from libs.testing.infra import nats_server, postgres_server
from proto.base import new_id
from proto.events.accounts import CreditGranted
from proto.subjects import StreamSpec, Subjects

RESULTS: list[tuple[str, str]] = []


def report(name: str, value: str) -> None:
    RESULTS.append((name, value))
    print(f"  {name:<58} {value}", flush=True)


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))] * 1000 if s else float("nan")


async def bench_store(nats_url: str, db_url: str) -> None:
    print("event store and relay")
    subjects = Subjects("bench" + uuid.uuid4().hex[:6])
    schema = subjects.schema("accounts")
    pool = await create_pool(db_url, schema, max_size=40)
    await migrate(pool, schema, None)
    store = EventStore(pool, schema, subjects, "accounts")
    org = str(uuid.uuid4())

    async def append_one(stream: str, version: int) -> None:
        async with store.transaction() as conn:
            await store.append(conn, stream, version, [CreditGranted(org_id=org, entry_id=new_id(),
                                                                     amount_micros=1, reason="bench")])

    n = 2000
    t = time.perf_counter()
    for i in range(n):
        await append_one("bench-single", i)
    report("append, 1 writer (1 event per transaction)", f"{n / (time.perf_counter() - t):,.0f} events/s")

    per = 200
    t = time.perf_counter()

    async def writer(w: int) -> None:
        for i in range(per):
            await append_one(f"bench-w{w}", i)

    await asyncio.gather(*(writer(w) for w in range(32)))
    report("append, 32 concurrent writers", f"{32 * per / (time.perf_counter() - t):,.0f} events/s")

    nc = await nats.connect(nats_url)
    await ensure_stream(nc, subjects, StreamSpec("accounts"))
    relay = Relay(pool, nc.jetstream(), schema, "accounts")
    total = await pool.fetchval("SELECT count(*) FROM events WHERE published_at IS NULL")
    t = time.perf_counter()
    while await relay.publish_pending():
        pass
    report(f"relay publish to JetStream ({total:,} events backlog)", f"{total / (time.perf_counter() - t):,.0f} events/s")
    await nc.close()
    await pool.close()


class Stack:
    """The whole system as separate processes (services.devstack) on private ports."""

    def __init__(self, nats_url: str, db_url: str):
        self.dir = tempfile.mkdtemp(prefix="am-bench-")
        self.gw_port, self.sim_port = free_port(), free_port()
        base = free_port() // 10 * 10 - 10
        self.env = {**os.environ, "AM_DATA_DIR": self.dir, "AM_NATS_URL": nats_url, "AM_DATABASE_URL": db_url,
                    "AM_GATEWAY_PORT": str(self.gw_port), "AM_SIM_PORT": str(self.sim_port),
                    "AM_SERVICE_PORT_BASE": str(base), "AM_SUBJECT_ROOT": "bench" + uuid.uuid4().hex[:6],
                    "AM_LOG_LEVEL": "warning", "AM_RATE_LIMIT_RPS": "1000000", "AM_RATE_LIMIT_BURST": "1000000",
                    "AM_SIM_REVIEW_DELAY_MS": "200", "AM_SIM_RECEIPT_DELAY_MS": "0"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.gw_port}"
        self.sim = f"http://127.0.0.1:{self.sim_port}"

    def __enter__(self) -> Stack:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.devstack"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        time.sleep(2)  # the other services report ready through devstack's own check
                        return self
            except Exception:
                time.sleep(0.5)
        raise RuntimeError("stack did not become ready")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(30)


async def load(fn: Callable[[aiohttp.ClientSession], Awaitable[Any]], seconds: float, concurrency: int) -> tuple[int, list[float], int]:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                ok = await fn(http)
                lat.append(time.perf_counter() - t)
                if not ok:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(lat), lat, errors


async def signup(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.post(url + "/v1/signup", json={
            "email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "bench password",
            "organization_name": "Bench"}) as r:
        body = await r.json()
        return str(body["data"]["api_key"]["secret"])


async def bench_gateway(stack: Stack) -> None:
    print("gateway (whole system running as separate processes)")
    key = await signup(stack.url)
    headers = {"Authorization": f"Bearer {key}"}

    async def get(http: aiohttp.ClientSession) -> bool:
        async with http.get(stack.url + "/v1/api-keys?limit=1", headers=headers) as r:
            await r.read()
            return r.status == 200

    await load(get, 2, 32)  # warm up
    n, lat, errors = await load(get, 10, 64)
    report("authenticated GET /v1/api-keys, 64 connections", f"{n / 10:,.0f} req/s, p50 {pct(lat, .5):.1f} ms, "
           f"p99 {pct(lat, .99):.1f} ms, {errors} errors")


async def main() -> None:
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    with nats_server() as nats_url, postgres_server() as db_url:
        await bench_store(nats_url, db_url)
        extra = os.environ.get("AM_BENCH_ONLY", "")
        with Stack(nats_url, db_url) as stack:
            for name, fn in BENCHES:
                if not extra or name in extra:
                    await fn(stack)
    print("\nsummary")
    for name, value in RESULTS:
        print(f"  {name:<58} {value}")


BENCHES: list[tuple[str, Callable[[Stack], Awaitable[None]]]] = [("gateway", bench_gateway)]

if __name__ == "__main__":
    asyncio.run(main())
