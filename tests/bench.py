"""`make bench`: throughput and latency numbers, printed. Never a pass/fail test.

Runs against the embedded NATS and PostgreSQL (or AM_TEST_NATS_URL / AM_TEST_DATABASE_URL), with the
whole system started as separate processes (like `make run`) where a number is measured end to end.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import nats

from libs.bus.conn import ensure_stream
from libs.embedded.ports import free_port, free_port_block
from libs.runtime.service import run_loop
from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from libs.store.relay import Relay
from libs.testing.infra import nats_server, postgres_server
from proto.base import new_id
from proto.events.accounts import CreditGranted
from proto.subjects import StreamSpec, Subjects
from tests import cpubudget, hops

RESULTS: list[tuple[str, str]] = []
FIGURES: list[tuple[str, float, str]] = []
PREFIX = [""]  # "prefilled_" while the benches run again on the pre-filled store (AM_BENCH_DATA=prefilled)


def mark() -> None:
    """With AM_BENCH_MARK=1, say when a measured phase starts (for a profiler to attach)."""
    if os.environ.get("AM_BENCH_MARK"):
        print("go", flush=True)


def report(name: str, value: str) -> None:
    RESULTS.append((name, value))
    print(f"  {name:<58} {value}", flush=True)


def figure(name: str, value: float, unit: str) -> None:
    """One machine-readable line, ``BENCH <name> <value> <unit>``, printed now and again in the summary."""
    name = PREFIX[0] + name
    FIGURES.append((name, value, unit))
    print(f"BENCH {name} {value:.6g} {unit}", flush=True)


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
    relay = Relay(pool, nc, schema, "accounts")
    total = await pool.fetchval("SELECT count(*) FROM outbox")
    t = time.perf_counter()
    while await relay.publish_pending():
        pass
    report(f"relay publish to JetStream ({total:,} events backlog)", f"{total / (time.perf_counter() - t):,.0f} events/s")
    await nc.close()
    await pool.close()


class Stack:
    """The whole system as separate processes (services.devstack) on private ports."""

    def __init__(self, nats_url: str, db_url: str, extra: dict[str, str] | None = None):
        self.dir = tempfile.mkdtemp(prefix="am-bench-")
        base = free_port_block(9)  # the services from base + 1, then gateway, simulator and its SMSC
        self.gw_port, self.sim_port = base + 7, base + 8
        self.env = {**os.environ, "AM_DATA_DIR": self.dir, "AM_NATS_URL": nats_url, "AM_DATABASE_URL": db_url,
                    "AM_GATEWAY_PORT": str(self.gw_port), "AM_SIM_PORT": str(self.sim_port),
                    "AM_SIM_SMPP_PORT": str(base + 9),
                    "AM_SERVICE_PORT_BASE": str(base), "AM_SUBJECT_ROOT": "bench" + uuid.uuid4().hex[:6],
                    "AM_LOG_LEVEL": "warning", "AM_RATE_LIMIT_RPS": "1000000", "AM_RATE_LIMIT_BURST": "1000000",
                    "AM_SIGNUP_RATE_PER_MIN": "100000",  # the delivered phase signs up 20 organizations
                    "AM_SIM_REVIEW_DELAY_MS": "200", "AM_SIM_RECEIPT_DELAY_MS": "0",
                    "AM_SIGNUP_CREDIT_MICROS": str(10_000 * 1_000_000),  # $10,000: credit is not what we measure
                    **(extra or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.gw_port}"
        self.sim = f"http://127.0.0.1:{self.sim_port}"

    @property
    def pid(self) -> int:
        """The stack's root process (services.devstack; the services are its children)."""
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Stack:
        log = os.path.join(self.dir, "devstack.out")
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "services.devstack"], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # devstack says "ready" once every service answers /readyz
            with open(log, "rb") as f:
                if b"] ready in" in f.read():
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"stack did not become ready (see {log})")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)  # (a stack that never became ready keeps its logs)


class KeepAlive:
    """One HTTP/1.1 keep-alive connection, as lean as a load generator can be in Python.

    The load generator shares the machine's two cores with the system it measures; aiohttp's client
    spends about as much CPU per request as the gateway does, which would count against the system."""

    def __init__(self, url: str):
        hostport = url.split("://", 1)[1].rstrip("/")
        self.host, _, port = hostport.partition(":")
        self.port = int(port or 80)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items())
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(url: str, fn: Callable[[KeepAlive], Awaitable[bool]], seconds: float,
               concurrency: int) -> tuple[int, list[float], int]:
    """``concurrency`` connections, each sending its next request when the last one is answered."""
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = KeepAlive(url)
        try:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                ok = await fn(conn)
                lat.append(time.perf_counter() - t)
                if not ok:
                    errors += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(lat), lat, errors


async def paced(url: str, fn: Callable[[KeepAlive, int], Awaitable[None]], rate: float, seconds: float,
                connections: int) -> float:
    """Open loop on keep-alive connections: request ``k`` starts at ``k / rate`` s (or as soon as a
    connection is free when all are busy). Answers the seconds the ``rate * seconds`` requests took."""

    async def one(conn: KeepAlive, ks: range) -> None:
        await fn(conn, ks[0])

    return await paced_batches(url, one, rate, seconds, connections, tick_s=0.0, most=1)


async def paced_batches(url: str, fn: Callable[[KeepAlive, range], Awaitable[None]], rate: float, seconds: float,
                        connections: int, tick_s: float = 0.005, most: int = 100) -> float:
    """Open loop in ticks: item ``k`` is due at ``k / rate`` s, and a request carries the items that fell due
    within a tick of ``tick_s`` (at most ``most``), sent when the tick ends (or as soon as a connection is
    free when all are busy) — for a target that takes many items a request (the simulator's handsets'
    texts), so that neither the load generator nor the simulator spends a request on each. With no tick
    and one item a request it is ``paced``. Answers the seconds it all took."""
    n = int(rate * seconds)
    per_tick = max(1, round(rate * tick_s))
    nxt = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal nxt
        conn = KeepAlive(url)
        try:
            while nxt < n:
                # a tick's items, or all those already due when this connection comes late; taken before the
                # wait for the last of them (each connection waits for items of its own)
                overdue = int((time.perf_counter() - start) * rate) + 1
                end = min(n, nxt + most, max(nxt + per_tick, overdue))
                ks, nxt = range(nxt, end), end
                wait = start + (end - 1) / rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                await fn(conn, ks)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - start


async def signup(url: str) -> str:
    return (await signup_org(url))[0]


async def signup_org(url: str) -> tuple[str, str]:
    async with aiohttp.ClientSession() as http, http.post(url + "/v1/signup", json={
            "email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "bench password",
            "organization_name": "Bench"}) as r:
        body = await r.json()
        return str(body["data"]["api_key"]["secret"]), str(body["data"]["organization"]["id"])


async def bench_gateway(stack: Stack) -> None:
    print("gateway (whole system running as separate processes)")
    key = await signup(stack.url)
    headers = {"Authorization": f"Bearer {key}"}

    async def get(conn: KeepAlive) -> bool:
        status, _ = await conn.request("GET", "/v1/api-keys?limit=1", headers)
        return status == 200

    await load(stack.url, get, 2, 32)  # warm up
    n, lat, errors = await load(stack.url, get, 10, 64)
    report("authenticated GET /v1/api-keys, 64 connections", f"{n / 10:,.0f} req/s, p50 {pct(lat, .5):.1f} ms, "
           f"p99 {pct(lat, .99):.1f} ms, {errors} errors")
    figure("auth_get_per_s", n / 10, "req/s")
    figure("auth_get_p99_ms", pct(lat, .99), "ms")


async def settle(db_url: str) -> None:
    """Start each measurement from a settled database, as pgbench does: vacuum what the previous one
    wrote, so autovacuum does not run in the middle of the next."""
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    await asyncio.sleep(1)


async def bench_idle(seconds: float = 5.0) -> None:
    """What the whole system spends a second doing nothing (sweeps, polls, the consumers' waiting fetches):
    every phase runs on top of it."""
    await asyncio.sleep(2)  # (past the start's own work)
    before = cpubudget.snapshot()
    await asyncio.sleep(seconds)
    spent = cpubudget.by_role(before, cpubudget.snapshot())
    per_s = {role: cpu * 1000 / seconds for role, cpu in spent.items() if role != "load generator"}
    top = sorted(per_s.items(), key=lambda kv: -kv[1])
    report("idle: CPU ms a second, the whole system", f"{sum(per_s.values()):.0f} ms/s ("
           + ", ".join(f"{role} {ms:.0f}" for role, ms in top if ms >= 0.5) + ")")
    figure("idle_cpu_ms_per_s", sum(per_s.values()), "ms/s")


async def main() -> None:
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    with nats_server() as nats_url, postgres_server() as db_url:
        await bench_store(nats_url, db_url)
        only = [w.strip() for w in os.environ.get("AM_BENCH_ONLY", "").split(",") if w.strip()]
        chosen = [(name, fn) for name, fn in BENCHES if not only or name in only]
        if chosen:
            with Stack(nats_url, db_url) as stack:
                await bench_idle()
                for _, fn in chosen:
                    await settle(db_url)
                    await fn(stack)
                if os.environ.get("AM_BENCH_DATA") == "prefilled":
                    await bench_prefilled(stack, db_url)
        if "scaleout" in only:  # not in the default set: two more stacks and a JetStream cluster
            from tests.scaleout import bench_scaleout

            await bench_scaleout(db_url, report, figure)
    print("\nsummary")
    for name, value in RESULTS:
        print(f"  {name:<58} {value}")
    for fname, fvalue, unit in FIGURES:
        print(f"BENCH {fname} {fvalue:.6g} {unit}")
    print(f"BENCH bench_wall_s {time.perf_counter() - started:.1f} s")


class Org:
    def __init__(self, key: str, org_id: str, number: str, number_id: str):
        self.key, self.org_id, self.number, self.number_id = key, org_id, number, number_id
        self.headers = {"Authorization": f"Bearer {key}"}


async def statuses(http: aiohttp.ClientSession, url: str, org: Org) -> dict[str, str]:
    """Every message of the organization with its status, read page by page."""
    final: dict[str, str] = {}
    cursor: str | None = None
    while True:
        async with http.get(url + "/v1/messages", headers=org.headers, params={
                "limit": "100", **({"cursor": cursor} if cursor else {})}) as r:
            page = await r.json()
        final.update((m["id"], m["status"]) for m in page["data"])
        cursor = page["meta"]["next_cursor"]
        if not cursor:
            return final


async def ready_org(stack: Stack, area_code: str = "212") -> Org:
    """An organization that can send: a number on an approved campaign of a top-vetted brand."""
    key, org_id = await signup_org(stack.url)
    h = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=h) as http:
        async with http.post(stack.url + "/v1/phone-numbers/search", json={"area_code": area_code, "quantity": 1}) as r:
            number = (await r.json())["data"][0]["phone_number"]
        async with http.post(stack.url + "/v1/phone-numbers/orders", json={"numbers": [number]}) as r:
            number_id = (await r.json())["data"]["phone_numbers"][0]["id"]
        async with http.post(stack.url + "/v1/brands", json={
                "entity_type": "PRIVATE_PROFIT", "display_name": "Bench", "company_name": "Bench Inc",
                "ein": "10-0000013", "email": "b@example.com", "phone": "+12125550100",
                "website": "https://example.com", "vertical": "TECHNOLOGY", "street": "1 Main St",
                "city": "New York", "state": "NY", "postal_code": "10001", "country": "US"}) as r:
            brand = (await r.json())["data"]["id"]
        async with http.post(stack.url + "/v1/campaigns", json={
                "brand_id": brand, "use_case": "ACCOUNT_NOTIFICATION",
                "description": "Account notifications for customers of Bench Inc about their orders.",
                "message_flow": "Customers opt in on our website form with a consent checkbox and confirm by SMS.",
                "sample_messages": ["Bench: your order shipped. Reply STOP to opt out, HELP for help."],
                "opt_out_keywords": ["STOP"], "opt_out_message": "Unsubscribed.", "help_keywords": ["HELP"],
                "help_message": "Bench: help at b@example.com. Reply STOP to opt out."}) as r:
            campaign = (await r.json())["data"]["id"]
        for _ in range(100):
            async with http.get(stack.url + f"/v1/campaigns/{campaign}") as r:
                if (await r.json())["data"]["status"] == "approved":
                    break
            await asyncio.sleep(0.2)
        async with http.patch(stack.url + "/v1/compliance/settings", json={"quiet_hours_enabled": False}) as r:
            assert r.status == 200
    return Org(key, org_id, number, number_id)


async def consent(stack: Stack, org: Org, contacts: list[str]) -> None:
    async with aiohttp.ClientSession(headers=org.headers) as http:
        for c in contacts:
            async with http.post(stack.url + "/v1/consent", json={
                    "contact_number": c, "method": "web_form",
                    "evidence": {"disclosure_text": "I agree to receive texts from Bench. Reply STOP to opt out."}}) as r:
                assert r.status in (200, 201), await r.text()


async def bench_gate(stack: Stack) -> None:
    """The gate as outbound asks it: callers' checks that arrive together share one ``evaluate_sends``
    request (the dispatcher's final checks and the accept batch both group-commit them; two batches in
    flight, up to 200 a batch). Also the older figure, one ``evaluate_send`` request per decision, which no
    send path uses any more (the API's dry run, ``POST /v1/compliance/check``, does)."""
    print("compliance gate (am.cmd.compliance.evaluate_sends over NATS, each decision recorded)")
    from libs.bus.rpc import RpcClient
    from libs.runtime.batching import Batcher
    from proto.commands.compliance import EvaluateSend, EvaluateSends, SendDecision

    org = await ready_org(stack, "646")
    contacts = [f"+1646555{i:04d}" for i in range(20)]
    await consent(stack, org, contacts)
    nc = await nats.connect(stack.env["AM_NATS_URL"])
    rpc = RpcClient(nc, Subjects(stack.env["AM_SUBJECT_ROOT"]))

    async def flush(sends: list[EvaluateSend]) -> list[SendDecision | None]:
        out = await rpc.call(EvaluateSends(sends=sends))
        return [o.decision for o in out.results]

    batcher: Batcher[EvaluateSend, SendDecision | None] = Batcher("gate", flush, max_batch=200, workers=2)
    batcher.start()

    def ask(k: int) -> EvaluateSend:
        return EvaluateSend(org_id=org.org_id, message_id=str(uuid.uuid4()), from_=org.number,
                            to=contacts[k % 20], text="bench")

    async def grouped(k: int) -> bool:
        d = await batcher.submit(ask(k))
        return d is not None and d.decision == "allow"

    async def single(k: int) -> bool:
        d: SendDecision = await rpc.call(ask(k))
        return d.decision == "allow"

    callers = int(os.environ.get("AM_BENCH_GATE_CALLERS", "32"))
    mark()
    for name, call in (("gate", grouped), ("gate_single", single)):
        before = cpubudget.snapshot()
        lat, allowed = await closed_loop(call, callers=callers, seconds=10)
        spent = cpubudget.by_role(before, cpubudget.snapshot())
        how = "checks grouped as outbound sends them" if name == "gate" else "one request per decision"
        report(f"gate decisions, {callers} concurrent callers, {how}",
               f"{len(lat) / 10:,.0f} decisions/s, p50 {pct(lat, .5):.1f} ms, p99 {pct(lat, .99):.1f} ms "
               f"({allowed} allowed of {len(lat)})")
        figure(f"{name}_per_s", len(lat) / 10, "decisions/s")
        cpu_rows(spent, len(lat), "decision", name)

    # The closed loop above runs the machine flat out, so its p99 is mostly the wait for a core. The
    # latency at a given load is measured open loop: requests started on a fixed schedule, as
    # callers arrive in production, whether or not earlier ones have been answered.
    for rate in (2500, 5000):
        paced, failures, took = await open_loop(grouped, rate, seconds=5)
        report(f"gate decisions at {rate:,}/s (open loop, {5} s, grouped)",
               f"{len(paced) / took:,.0f} decisions/s, p50 {pct(paced, .5):.1f} ms, p99 {pct(paced, .99):.1f} ms, "
               f"{failures} failed")
        figure(f"gate_open_{rate}_p99_ms", pct(paced, .99), "ms")
    await batcher.stop()
    await nc.close()


async def closed_loop(call: Callable[[int], Awaitable[bool]], callers: int, seconds: float) -> tuple[list[float], int]:
    """``callers`` tasks each calling again as soon as answered; the latencies and how many said yes."""
    lat: list[float] = []
    yes = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal yes
        i = 0
        while time.perf_counter() < stop:
            t = time.perf_counter()
            ok = await call(w + i)  # (awaited first: ``yes += await …`` would read yes before the wait)
            yes += ok
            lat.append(time.perf_counter() - t)
            i += 1

    await asyncio.gather(*(worker(w) for w in range(callers)))
    return lat, yes


async def open_loop(call: Callable[[int], Awaitable[bool]], rate: int, seconds: int) -> tuple[list[float], int, float]:
    """Calls started on a fixed schedule whether or not earlier ones were answered: the latencies of
    those answered, how many failed, and how long it all took."""
    paced: list[float] = []
    failures = 0

    async def one(k: int) -> None:
        nonlocal failures
        t = time.perf_counter()
        try:
            await call(k)
        except Exception:
            failures += 1
            return
        paced.append(time.perf_counter() - t)

    await asyncio.sleep(1)
    tasks = []
    start = time.perf_counter()
    for k in range(rate * seconds):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    return paced, failures, time.perf_counter() - start


async def bench_sends(stack: Stack) -> None:
    print("sends: POST /v1/messages through gateway -> outbound -> compliance -> accounts")
    org = await ready_org(stack, "917")
    contacts = [f"+1917555{i:04d}" for i in range(50)]
    await consent(stack, org, contacts)
    ids: list[str] = []
    i = 0

    async def send(conn: KeepAlive) -> bool:
        nonlocal i
        i += 1
        status, body = await conn.request("POST", "/v1/messages", org.headers, json.dumps({
            "from": org.number, "to": contacts[i % 50], "text": f"bench {i}"}).encode())
        if status == 202:
            ids.append(json.loads(body)["data"]["id"])
        return status == 202

    connections = int(os.environ.get("AM_BENCH_SEND_CONNECTIONS", "32"))
    mark()
    before = cpubudget.snapshot()
    n, lat, errors = await load(stack.url, send, 10, connections)
    spent = cpubudget.by_role(before, cpubudget.snapshot())
    report(f"accepted sends (202), {connections} connections", f"{(n - errors) / 10:,.0f} sends/s, p50 {pct(lat, .5):.1f} ms, "
           f"p99 {pct(lat, .99):.1f} ms, {errors} not accepted")
    figure("sends_per_s", (n - errors) / 10, "sends/s")
    figure("sends_p50_ms", pct(lat, .5), "ms")
    figure("sends_p99_ms", pct(lat, .99), "ms")
    if n - errors and spent:
        for role, ms in cpubudget.budget_rows(spent, n - errors):
            report(f"  ... CPU per accepted send: {role}", f"{ms:.2f} ms")
            figure(f"cpu_ms_per_send_{role.replace(' ', '_')}", ms, "ms")
    # every accepted message reaches a terminal status: wait until none is pending (one listing a
    # second, so the waiting costs the system nothing), then read them all back and count
    t = time.perf_counter()
    budget = 120 + 2 * len(ids) / 60  # the sending number's 3,600 segments a minute, twice over
    async with aiohttp.ClientSession(headers=org.headers) as http:
        while time.perf_counter() - t < budget:
            async with http.get(stack.url + "/v1/messages", params={
                    "status": "scheduled,queued,sending,sent", "limit": "1"}) as r:
                if not (await r.json())["data"]:
                    break
            await asyncio.sleep(1)
        took = time.perf_counter() - t
        final = await statuses(http, stack.url, org)
    delivered = sum(final.get(mid) == "delivered" for mid in ids)
    terminal = sum(final.get(mid) in ("delivered", "undelivered", "failed", "canceled") for mid in ids)
    report("  ... accepted messages delivered", f"{delivered:,}/{len(ids):,} ({terminal:,} terminal) "
           f"{took:,.1f} s after the load; shaped at the number's 3,600/min")
    figure("sends_delivered", delivered, "messages")
    if delivered and before:  # the whole life of the sends: accepted, dispatched, submitted, receipted
        whole = cpubudget.by_role(before, cpubudget.snapshot())
        figure("cpu_ms_per_delivered_send_total", cpubudget.budget_rows(whole, delivered)[-1][1], "ms")
    figure("sends_not_terminal", len(ids) - terminal, "messages")

    # accepted -> delivered latency, paced below the campaign's limit, receipts immediate
    paced: list[tuple[str, float]] = []
    async with aiohttp.ClientSession(headers=org.headers) as http:
        for k in range(200):
            t0 = time.perf_counter()
            async with http.post(stack.url + "/v1/messages", json={
                    "from": org.number, "to": contacts[k % 50], "text": f"paced {k}"}) as r:
                if r.status == 202:
                    paced.append(((await r.json())["data"]["id"], time.time()))
            await asyncio.sleep(max(0, 1 / 40 - (time.perf_counter() - t0)))
        await asyncio.sleep(5)
        lats = []
        for mid, accepted in paced:
            async with http.get(stack.url + f"/v1/messages/{mid}") as r:
                d = (await r.json())["data"]
            for step in d.get("timeline", []):
                if step["status"] == "delivered":
                    from datetime import datetime

                    lats.append(datetime.fromisoformat(step["at"].replace("Z", "+00:00")).timestamp() - accepted)
        report("accepted -> delivered at 40/s, receipt delay 0", f"p50 {pct(lats, .5):.0f} ms, p99 {pct(lats, .99):.0f} ms "
               f"({len(lats)}/{len(paced)} delivered)")
        figure("delivered_40_p99_ms", pct(lats, .99), "ms")


DELIVERED_RATE, DELIVERED_S, DELIVERED_ORGS = 1000, 60, 20
"""accepted -> delivered: sends per second, for how long, spread over how many organizations (each a
number on its own campaign: 50/s each stays under a number's 3,600 and a campaign's 4,500 a minute, so
shaping does not hold any message back)."""


AREA_CODES = ("201", "202", "203", "205", "206", "207", "208", "209", "210", "213", "214", "215", "216", "217",
              "218", "219", "224", "225", "228", "229")


async def bench_delivered(stack: Stack) -> None:
    rate = int(os.environ.get("AM_BENCH_DELIVERED_RATE", DELIVERED_RATE))
    seconds = float(os.environ.get("AM_BENCH_DELIVERED_S", DELIVERED_S))
    print(f"accepted -> delivered at {rate:,}/s for {seconds:g} s over {DELIVERED_ORGS} numbers, receipt delay 0")
    orgs: list[Org] = []
    for group in range(0, DELIVERED_ORGS, 5):  # a few at a time: each waits for its campaign's review
        orgs += await asyncio.gather(*(ready_org(stack, AREA_CODES[i]) for i in range(group, group + 5)))
    contacts = {o.org_id: [f"+1917556{i:02d}{k:02d}" for k in range(10)] for i, o in enumerate(orgs)}
    await asyncio.gather(*(consent(stack, o, contacts[o.org_id]) for o in orgs))
    paths: hops.Paths = {}
    refused = 0
    started = time.time()

    async def send(conn: KeepAlive, k: int) -> None:
        nonlocal refused
        org = orgs[k % len(orgs)]
        status, body = await conn.request("POST", "/v1/messages", org.headers, json.dumps({
            "from": org.number, "to": contacts[org.org_id][(k // len(orgs)) % 10], "text": f"d {k}"}).encode())
        if status == 202:
            paths[json.loads(body)["data"]["id"]] = {"accepted": time.time()}
        else:
            refused += 1

    mark()
    before = cpubudget.snapshot()
    took = await paced(stack.url, send, rate, seconds, 128)
    report(f"  ... sends at {rate:,}/s for {seconds:g} s", f"{len(paths):,} accepted in {took:.1f} s "
           f"({len(paths) / took:,.0f}/s), {refused} not accepted")
    t = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        waiting = list(orgs)
        while waiting and time.perf_counter() - t < 120 + len(paths) / 500:
            async with http.get(stack.url + "/v1/messages", headers=waiting[0].headers, params={
                    "status": "scheduled,queued,sending,sent", "limit": "1"}) as r:
                if not (await r.json())["data"]:
                    waiting.pop(0)
                    continue
            await asyncio.sleep(1)
    drained = time.perf_counter() - t
    spent = cpubudget.by_role(before, cpubudget.snapshot())
    await trace(stack, started, paths, "accepted -> delivered", [
        ("outbound", "message_sending", lambda e: e.message_id, "dispatched", False),
        ("carrier", "message_submitted", lambda e: e.message_id, "carrier submitted", False),
        ("carrier", "receipt_received", lambda e: e.message_id, "carrier receipt", True),
        ("outbound", "message_delivered", lambda e: e.message_id, "delivered", False)],
        ["accepted", "dispatched", "carrier submitted", "carrier receipt", "carrier receipt published", "delivered"])
    ours = [p for p in paths.values() if "accepted" in p]
    lats = [p["delivered"] - p["accepted"] for p in ours if "delivered" in p]
    report(f"accepted -> delivered at {rate:,}/s for {seconds:g} s", f"p50 {pct(lats, .5):.0f} ms, p99 "
           f"{pct(lats, .99):.0f} ms ({len(lats):,}/{len(ours):,} delivered; drained {drained:.0f} s after the load)")
    cpu_rows(spent, len(lats), "delivered send", "delivered")
    figure("delivered_accepted_per_s", len(ours) / took, "sends/s")
    figure("delivered_p50_ms", pct(lats, .5), "ms")
    figure("delivered_p99_ms", pct(lats, .99), "ms")
    figure("delivered_missing", len(ours) - len(lats), "messages")


MO_PHASES: tuple[tuple[int, float], ...] = ((100, 5), (500, 5), (1000, 30))
"""MO -> webhook: (texts per second, seconds) of each phase; the last is the headline figure."""


async def bench_inbound(stack: Stack) -> None:
    print("inbound: simulator MO callback -> stored -> signed webhook received")
    from aiohttp import web

    org = await ready_org(stack, "305")
    received: dict[str, float] = {}
    copies: dict[str, int] = {}
    port = free_port()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        received.setdefault(body["body"], time.time())
        copies[body["body"]] = copies.get(body["body"], 0) + 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession(headers=org.headers) as http, http.patch(
            stack.url + f"/v1/phone-numbers/{org.number_id}", json={"inbound_url": f"http://127.0.0.1:{port}/hook"}) as r:
        assert r.status == 200, await r.text()
    phases = MO_PHASES
    only = os.environ.get("AM_BENCH_MO_RATE")
    if only:
        phases = ((int(only), float(os.environ.get("AM_BENCH_MO_S", "4"))),)
    lats: list[float] = []
    for rate, seconds in phases:
        mark()
        paths: hops.Paths = {}
        received.clear()
        copies.clear()
        started = time.time()

        async def post(conn: KeepAlive, ks: range, rate: int = rate, paths: hops.Paths = paths) -> None:
            texts = [f"mo {rate} {k}" for k in ks]
            now = time.time()
            for text in texts:
                paths[text] = {"callback": now}
            status, _ = await conn.request("POST", "/sim/messages/batch", {}, json.dumps({"messages": [
                {"from": f"+1305555{k % 10000:04d}", "to": org.number, "text": text}
                for k, text in zip(ks, texts, strict=True)]}).encode())
            assert status == 202, status

        n = int(rate * seconds)
        before = cpubudget.snapshot()
        took = await paced_batches(stack.sim, post, rate, seconds, 8)
        deadline = time.perf_counter() + 30
        while len(received) < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
        spent = cpubudget.by_role(before, cpubudget.snapshot())
        await asyncio.sleep(1)  # a copy delivered twice would come now
        for text, at in received.items():
            if text in paths:
                paths[text]["webhook"] = at
        lats = [p["webhook"] - p["callback"] for p in paths.values() if "webhook" in p]
        twice = sum(c > 1 for c in copies.values())
        report(f"MO -> webhook at {rate:,}/s for {seconds:g} s", f"p50 {pct(lats, .5):.0f} ms, p99 {pct(lats, .99):.0f} ms, "
               f"{len(lats):,}/{n:,} delivered, {twice} more than once (sent in {took:.1f} s)")
        figure(f"mo_webhook_{rate}_p99_ms", pct(lats, .99), "ms")
        if (rate, seconds) == phases[-1]:
            cpu_rows(spent, len(lats), "MO", "mo")
            figure("mo_webhook_p99_ms", pct(lats, .99), "ms")  # the last phase: the highest rate
            figure("mo_webhook_delivered", len(lats), "messages")
            figure("mo_webhook_duplicates", twice, "messages")
            await trace(stack, started, paths, f"MO -> webhook at {rate:,}/s", [
                ("carrier", "inbound_text_received", lambda e: e.text, "carrier text", True),
                ("inbound", "inbound_message_received", lambda e: e.body, "inbound message", False)],
                ["callback", "carrier text", "carrier text published", "inbound message", "webhook"])
    await runner.cleanup()


async def bench_consent(stack: Stack) -> None:
    """Read-your-consent: from the carrier's callback of a STOP to the gate refusing the contact. The
    STOP is visible (a wait on the inbound messages returns it) only once compliance has recorded it, so
    the latency is measured to that moment, and the gate is asked right then: it must already refuse."""
    print("consent: carrier callback of a STOP -> visible to the organization, the gate refusing")
    org = await ready_org(stack, "786")
    n, rate = 200, 20
    contacts = [f"+1786555{i:04d}" for i in range(n)]
    await consent(stack, org, contacts)
    lats: list[float] = []
    agreed = 0
    paths: hops.Paths = {}
    started = time.time()

    async def one(http: aiohttp.ClientSession, contact: str) -> None:
        nonlocal agreed
        since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")  # a new contact
        waiting = asyncio.create_task(http.get(stack.url + "/v1/inbound-messages",
                                               params={"wait": "30", "from": contact, "since": since}))
        t0 = time.perf_counter()
        paths[contact] = {"callback": time.time()}
        async with http.post(stack.sim + "/sim/messages", json={"from": contact, "to": org.number,
                                                                "text": "STOP"}) as r:
            assert r.status == 202
        async with await waiting as r:
            page = await r.json()
        if not page["data"]:
            return
        paths[contact]["visible"] = time.time()
        lats.append(time.perf_counter() - t0)
        async with http.post(stack.url + "/v1/compliance/check", json={
                "from": org.number, "to": contact, "text": "are you there?"}) as r:
            d = (await r.json())["data"]
            agreed += d["decision"] == "deny" and d["code"] == "RECIPIENT_OPTED_OUT"

    before = cpubudget.snapshot()
    async with aiohttp.ClientSession(headers=org.headers) as http:
        tasks = []
        t_start = time.perf_counter()
        for k, contact in enumerate(contacts):
            await asyncio.sleep(max(0, t_start + k / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(http, contact)))
        await asyncio.gather(*tasks)
    cpu_rows(cpubudget.by_role(before, cpubudget.snapshot()), n, "STOP", "consent")
    report(f"STOP callback -> visible and refused by the gate, {rate}/s",
           f"p50 {pct(lats, .5):.0f} ms, p99 {pct(lats, .99):.0f} ms, {len(lats)}/{n} visible, "
           f"gate refused {agreed}/{len(lats)} at once")
    figure("consent_visible_p50_ms", pct(lats, .5), "ms")
    figure("consent_visible_p99_ms", pct(lats, .99), "ms")
    figure("consent_gate_p99_ms", pct(lats, .99), "ms")
    await trace(stack, started, paths, "STOP callback -> visible", [
        ("carrier", "inbound_text_received", lambda e: e.from_, "carrier text", True),
        ("inbound", "inbound_message_received", lambda e: e.from_, "inbound message", True),
        ("compliance", "opt_out_recorded", lambda e: e.contact_number, "compliance opt-out", False)],
        ["callback", "carrier text", "carrier text published", "inbound message", "compliance opt-out",
         "inbound message published", "visible"])
    figure("consent_refused_at_once", agreed, "contacts")


def cpu_rows(spent: dict[str, float], units: int, unit: str, prefix: str) -> None:
    """CPU milliseconds per ``unit`` by process (a busy loop shows here however loaded the machine is)."""
    if not spent or not units:
        return
    rows = cpubudget.budget_rows(spent, units)
    report(f"  ... CPU per {unit}, ms", ", ".join(f"{role} {ms:.2f}" for role, ms in rows[:-1]))
    report(f"  ... CPU per {unit}, total", f"{rows[-1][1]:.2f} ms")
    figure(f"cpu_ms_per_{prefix}_total", rows[-1][1], "ms")


async def trace(stack: Stack, since: float, paths: hops.Paths, title: str,
                sources: list[tuple[str, str, Callable[[Any], str], str, bool]], order: list[str]) -> None:
    """Per-hop times of a measured path, read back from the streams (see tests/hops.py): each source is
    (domain, event token, the event's key in ``paths``, point name, whether its publish is a point too)."""
    nc = await nats.connect(stack.env["AM_NATS_URL"])
    try:
        subjects = Subjects(stack.env["AM_SUBJECT_ROOT"])
        for domain, token, key, name, published in sources:
            events = await hops.read_events(nc, subjects, domain, token, since)
            hops.add(paths, events, key, name, published)
    finally:
        await nc.close()
    hops.report(title, paths, order, report)


PREFILLED = ("sends", "inbound")
"""The benches that run again, on the empty store and then on the pre-filled one."""


async def bench_prefilled(stack: Stack, db_url: str) -> None:
    """AM_BENCH_DATA=prefilled: a second stack on the same NATS and PostgreSQL servers, its schemas filled
    with old traffic (tests/prefill.py; AM_PREFILL_ORGS, AM_PREFILL_MESSAGES, AM_PREFILL_INBOUND, defaults
    1,000 / 1,000,000 / 200,000). Then each of the send and MO benches runs on the first stack's store as it
    is (``control_`` figures) and at once after on the pre-filled one (``prefilled_``), and each figure's
    ratio is printed. Measured side by side, a machine that got faster or slower during the fill's ten
    minutes moves both figures alike (the same comparison against the figures from before the fill moved
    by as much as the data did). Only the stack measured counts in the CPU budget: the other stands by."""
    from tests.prefill import prefill

    orgs = int(os.environ.get("AM_PREFILL_ORGS", "1000"))
    messages = int(os.environ.get("AM_PREFILL_MESSAGES", "1000000"))
    inbound = int(os.environ.get("AM_PREFILL_INBOUND", "200000"))
    with Stack(stack.env["AM_NATS_URL"], db_url) as full:
        print(f"pre-filling a second stack: {orgs:,} organizations, {messages:,} messages, {inbound:,} inbound texts")
        got = await prefill(db_url, Subjects(full.env["AM_SUBJECT_ROOT"]), orgs=orgs, messages=messages,
                            inbound=inbound)
        report("pre-fill (COPY from the event classes)", f"{got['events']:,.0f} events, {messages:,} messages, "
               f"{orgs:,} organizations in {got['seconds']:,.0f} s")
        figure("prefill_events", got["events"], "events")
        figure("prefill_seconds", got["seconds"], "s")
        for name, fn in BENCHES:
            if name not in PREFILLED:
                continue
            for prefix, on, idle, what in (("control_", stack, full, "the empty store"),
                                           ("prefilled_", full, stack, "the pre-filled store")):
                print(f"{name}, on {what}")
                await settle(db_url)
                PREFIX[0] = prefix
                try:
                    with cpubudget.leaving_out(idle.pid):
                        await fn(on)
                finally:
                    PREFIX[0] = ""
    got_figures = {n: v for n, v, _ in FIGURES}
    for name in ("sends_per_s", "sends_p99_ms", "mo_webhook_p99_ms"):  # the figures of the benches in PREFILLED
        before, after = got_figures.get(f"control_{name}"), got_figures.get(f"prefilled_{name}")
        if before and after is not None:
            report(f"pre-filled / empty store, side by side: {name}", f"{after / before:.2f}")
            figure(f"prefilled_ratio_{name}", after / before, "ratio")


BENCHES: list[tuple[str, Callable[[Stack], Awaitable[None]]]] = [
    ("gateway", bench_gateway), ("gate", bench_gate), ("sends", bench_sends), ("delivered", bench_delivered),
    ("inbound", bench_inbound),
    ("consent", bench_consent)]

if __name__ == "__main__":
    run_loop(main())
