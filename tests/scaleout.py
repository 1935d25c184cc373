"""Scale-out: the send path with replicas of the gateway and outbound against a JetStream cluster.

A stack (``services.devstack``, one process per service) runs against a 3-node JetStream cluster on
loopback, every stream with three replicas (``AM_STREAM_REPLICAS=3``); ``Replicas`` then starts more
processes of a service — the same program with the environment devstack gave the first one, on a port
of its own — so two gateways take the load and two outbound processes share its commands and
consumers (the dispatcher and each relay lead in one of them, by advisory lock). Afterwards every
accepted message is checked: delivered (the store, through the public API), handed to the carrier
exactly once (the simulator's handsets: each text received once) and delivered exactly once on the
bus (``MessageDelivered`` events in the outbound stream, by message id).

Used by ``make bench`` (``AM_BENCH_ONLY=scaleout``) and by ``tests/chaos/test_scaleout.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

import aiohttp
import nats
from nats.js.errors import ServiceUnavailableError

from libs.embedded.ports import free_port
from proto.events.outbound import MessageDelivered
from proto.subjects import Subjects
from tests import cpubudget
from tests.bench import KeepAlive, Org, Stack, consent, ready_org, statuses

SCALEOUT_ENV = {
    "AM_STREAM_REPLICAS": "3",  # every stream on all three nodes
    "AM_SIM_STATE_FILE": "",  # the simulator keeps its world in memory (no file written per message)
}
LOAD_ENV = {  # as the bench's stack: neither rate limits nor credit are what is measured
    "AM_RATE_LIMIT_RPS": "1000000", "AM_RATE_LIMIT_BURST": "1000000", "AM_SIM_REVIEW_DELAY_MS": "200",
    "AM_SIM_RECEIPT_DELAY_MS": "0", "AM_SIGNUP_CREDIT_MICROS": str(10_000 * 1_000_000)}
PENDING = "scheduled,queued,sending,sent"


class Replicas:
    """More processes of a running stack's services, each started like devstack's own."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.procs: list[subprocess.Popen[bytes]] = []

    def _first(self, service: str) -> int:
        """The pid of devstack's process of ``service`` (a child of the devstack process)."""
        assert self.stack.proc is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if ppid == self.stack.proc.pid and f"services.{service}".encode() in argv:
                return int(entry.name)
        raise RuntimeError(f"devstack runs no {service}")

    def add(self, service: str) -> str:
        """One more ``service`` process; answers its base URL once its /readyz says 200."""
        pid = self._first(service)
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        env = dict(kv.decode().split("=", 1) for kv in raw if b"=" in kv)
        port = free_port()
        env["AM_HTTP_PORT"] = str(port)
        if service == "gateway":
            env["AM_GATEWAY_PORT"] = str(port)
        log = Path(self.stack.dir) / f"{service}-{port}.log"
        with open(log, "wb") as out:
            self.procs.append(subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=env,
                                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.procs[-1].poll() is not None:
                break
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return url
            except Exception:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"replica of {service} did not become ready (see {log})")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


@dataclass
class Run:
    """One configuration's sends: what was accepted, by which gateway, and the verdict afterwards."""

    replicas: int
    gateways: list[str]
    orgs: list[Org]
    contacts: list[list[str]]
    accepted: dict[str, tuple[int, str]] = field(default_factory=dict)
    """message id → (organization index, text)"""
    refused: int = 0
    sends: int = 0
    """Accepted during the measured load (``accepted`` also holds the warm-up's)."""
    latencies: list[float] = field(default_factory=list)
    by_gateway: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process during the load."""
    cpu_whole: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process from the load's start until every message was final."""
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    """Texts the carrier simulator's handsets received more than once (each extra copy counts)."""
    event_duplicates: int = 0
    """Extra ``MessageDelivered`` events of one message in the outbound stream."""
    drained_s: float = 0.0
    before: dict[int, tuple[str, float]] = field(default_factory=dict)
    idle: dict[str, float] = field(default_factory=dict)
    """CPU seconds per second per process with nothing to do (measured before the load)."""
    connections: int = 32

    @property
    def name(self) -> str:
        """The prefix of its figures: ``scaleout_single``, ``scaleout`` (two replicas, the same connections),
        ``scaleout_doubled`` (two replicas, twice the connections)."""
        if self.replicas == 1:
            return "scaleout_single"
        return "scaleout" if self.connections == 32 else "scaleout_doubled"

    @property
    def label(self) -> str:
        return f"{self.replicas} replica(s), {self.connections} connections"


class Target(Protocol):
    """Where the load goes: a stack (``tests.bench.Stack``) or an in-process system (``InProcess``)."""

    url: str
    sim: str
    env: dict[str, str]


@dataclass
class InProcess:
    url: str
    sim: str
    env: dict[str, str]


async def prepare(target: Target, gateways: list[str], orgs: int, contacts: int = 20) -> Run:
    """``orgs`` organizations ready to send (each its own number and campaign, so the backlog drains at
    ``orgs`` times the number's 60 messages a second), the load to go through ``gateways``."""
    stack = cast(Stack, target)  # ready_org and consent read only its url
    ready = await asyncio.gather(*(ready_org(stack, area) for area in _areas(orgs)))
    people = [[f"+1{org.number[2:5]}555{k:04d}" for k in range(contacts)] for org in ready]
    await asyncio.gather(*(consent(stack, org, c) for org, c in zip(ready, people, strict=True)))
    return Run(len(gateways), gateways, list(ready), people)


def _areas(n: int) -> list[str]:
    return ["212", "917", "646", "305", "415", "312", "617", "206", "503", "702", "512", "404"][:n] + [
        str(300 + k) for k in range(max(0, n - 12))]


async def send_load(run: Run, connections: int, seconds: float | None = None, count: int | None = None,
                    measure: bool = True) -> None:
    """``connections`` keep-alive connections spread over the gateways and organizations, each sending
    its next message when the last is answered, for ``seconds`` or until ``count`` were sent. Measured:
    the accepted sends, their latencies and every process's CPU time; else a warm-up (every process's
    caches, pools and prepared statements) whose messages are still checked."""
    stop = time.perf_counter() + (seconds or 1e9)
    sent = accepted = 0
    tag = f"r{run.replicas}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    latencies: list[float] = []

    async def worker(w: int) -> None:
        nonlocal sent, accepted
        gw, o = run.gateways[w % len(run.gateways)], (w // len(run.gateways)) % len(run.orgs)
        org, people = run.orgs[o], run.contacts[o]
        conn = KeepAlive(gw)
        try:
            while time.perf_counter() < stop and (count is None or sent < count):
                i = sent
                sent += 1
                text = f"scale {tag} {i}"
                t0 = time.perf_counter()
                status, body = await conn.request("POST", "/v1/messages", org.headers, json.dumps({
                    "from": org.number, "to": people[i % len(people)], "text": text}).encode())
                latencies.append(time.perf_counter() - t0)
                if status == 202:
                    run.accepted[json.loads(body)["data"]["id"]] = (o, text)
                    run.by_gateway[gw] += 1
                    accepted += 1
                else:
                    run.refused += 1
        finally:
            conn.close()

    before = cpubudget.snapshot()
    t = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    if measure:
        run.seconds, run.sends, run.latencies = time.perf_counter() - t, accepted, latencies
        run.before = before
        run.cpu = cpubudget.by_process(before, cpubudget.snapshot())


async def verify(stack: Target, run: Run, budget_s: float) -> None:
    """Wait until no accepted message is pending, then count what was lost and what was doubled."""
    t = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        for org in run.orgs:
            while time.perf_counter() - t < budget_s:
                async with http.get(stack.url + "/v1/messages", headers=org.headers,
                                    params={"status": PENDING, "limit": "1"}) as r:
                    if not (await r.json())["data"]:
                        break
                await asyncio.sleep(0.5)
        run.drained_s = time.perf_counter() - t
        run.cpu_whole = cpubudget.by_process(run.before, cpubudget.snapshot())
        final: dict[str, str] = {}
        for org in run.orgs:
            final.update(await statuses(http, stack.url, org))
        received: Counter[str] = Counter()
        for people in run.contacts:
            for c in people:
                async with http.get(stack.sim + f"/sim/handsets/{c}/messages") as r:
                    received.update(m["text"] for m in (await r.json())["data"])
    ours = {text for _, text in run.accepted.values()}
    run.delivered = sum(final.get(mid) == "delivered" for mid in run.accepted)
    run.lost = sum(final.get(mid) != "delivered" or not received[text] for mid, (_, text) in run.accepted.items())
    run.duplicates = sum(n - 1 for text, n in received.items() if text in ours and n > 1)
    events = await delivered_events(stack)
    run.event_duplicates = sum(n - 1 for mid, n in events.items() if mid in run.accepted and n > 1)




async def delivered_events(stack: Target) -> Counter[str]:
    """``MessageDelivered`` events in the outbound stream, by message id (read with a pull consumer)."""
    subjects = Subjects(stack.env["AM_SUBJECT_ROOT"])
    nc = await nats.connect(servers=stack.env["AM_NATS_URL"].split(","))
    counts: Counter[str] = Counter()
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subjects.of(MessageDelivered), stream=subjects.stream_name("outbound"))
        unavailable_until = time.monotonic() + 30
        while True:
            try:
                msgs = await sub.fetch(1000, timeout=2)
                for m in msgs:
                    counts[json.loads(m.data)["message_id"]] += 1
                    await m.ack()
                if (await sub.consumer_info()).num_pending == 0:
                    break
            except TimeoutError:
                break
            except ServiceUnavailableError:
                # a new consumer on a replicated stream answers 503 until its leader is elected: ask again
                # (what was fetched and acked stays counted; the consumer hands on from there)
                if time.monotonic() > unavailable_until:
                    raise
                await asyncio.sleep(0.2)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return counts


def cpu_ms_per(spent: dict[str, float], units: int) -> list[tuple[str, float]]:
    """(process, CPU ms per unit), the largest first, then the total."""
    rows = sorted(((name, s * 1000 / units) for name, s in spent.items() if s > 0), key=lambda r: -r[1])
    return [*rows, ("total", sum(spent.values()) * 1000 / max(units, 1))]


Report = Callable[[str, str], None]
Figure = Callable[[str, float, str], None]


async def bench_scaleout(db_url: str, report: Report, figure: Figure) -> None:
    """``make bench`` with AM_BENCH_ONLY=scaleout: the same sends with one replica of everything, then
    with two of the gateway and outbound, each on a fresh stack against one 3-node JetStream cluster.
    ``report`` and ``figure`` are the running bench's (its summary repeats them)."""
    import tempfile

    from libs.embedded.cluster import NatsCluster
    from tests.bench import settle

    seconds = float(os.environ.get("AM_BENCH_SCALEOUT_S", "10"))
    orgs = int(os.environ.get("AM_BENCH_SCALEOUT_ORGS", "8"))
    print(f"scale-out: sends for {seconds:.0f} s from {orgs} organizations, 3-node JetStream cluster (streams R3);"
          " one replica of each service on 32 connections, then two of gateway and outbound on 32 (the same load"
          " spread over them) and on 64 (the same load for each)")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="am-cluster-", dir="/tmp") as d:
        cluster = NatsCluster(Path(d)).start()
        try:
            await cluster.wait_ready()
            for replicas, connections in ((1, 32), (2, 32), (2, 64)):
                await settle(db_url)
                with Stack(cluster.url_for(), db_url, SCALEOUT_ENV) as stack:
                    extra = Replicas(stack)
                    try:
                        gateways = [stack.url]
                        for _ in range(replicas - 1):
                            gateways.append(await asyncio.to_thread(extra.add, "gateway"))
                            await asyncio.to_thread(extra.add, "outbound")
                        run = await prepare(stack, gateways, orgs)
                        run.connections = connections
                        await send_load(run, connections, count=20 * connections, measure=False)  # warm-up
                        await idle(run, 3.0)
                        await send_load(run, connections, seconds=seconds)
                        await verify(stack, run, budget_s=120 + 2 * len(run.accepted) / (60 * orgs))
                    finally:
                        extra.stop()
                runs.append(run)
                _report(run, report, figure)
        finally:
            cluster.stop()
    _side_by_side(runs, report, figure)


async def idle(run: Run, seconds: float) -> None:
    """What every process spends doing nothing (raft heartbeats, sweeps, polls), once the warm-up's
    messages are delivered: subtracted from the load's CPU for the net figures."""
    async with aiohttp.ClientSession() as http:
        for org in run.orgs:
            for _ in range(240):
                async with http.get(run.gateways[0] + "/v1/messages", headers=org.headers,
                                    params={"status": PENDING, "limit": "1"}) as r:
                    if not (await r.json())["data"]:
                        break
                await asyncio.sleep(0.5)
    before = cpubudget.snapshot()
    await asyncio.sleep(seconds)
    run.idle = {k: v / seconds for k, v in cpubudget.by_process(before, cpubudget.snapshot()).items()}


def net(run: Run) -> dict[str, float]:
    """CPU seconds per process during the load, less what it spends idle in as long."""
    return {k: max(0.0, v - run.idle.get(k, 0.0) * run.seconds) for k, v in run.cpu.items()}


def _report(run: Run, report: Report, figure: Figure) -> None:
    from tests.bench import pct

    n, name = run.sends, run.name
    spread = ", ".join(f"{k:,}" for k in run.by_gateway.values())
    report(f"{run.label}: accepted sends", f"{n / run.seconds:,.0f} sends/s, p50 "
           f"{pct(run.latencies, .5):.1f} ms, p99 {pct(run.latencies, .99):.1f} ms, {run.refused} refused "
           f"(all sends per gateway, warm-up included: {spread})")
    report(f"{run.label}: delivered, lost, carrier dup., bus dup.",
           f"{run.delivered:,}/{len(run.accepted):,}, {run.lost}, {run.duplicates}, {run.event_duplicates} "
           f"(drained {run.drained_s:.0f} s after the load)")
    figure(f"{name}_sends_per_s", n / run.seconds, "sends/s")
    figure(f"{name}_sends_p99_ms", pct(run.latencies, .99), "ms")
    figure(f"{name}_lost", run.lost, "messages")
    figure(f"{name}_duplicates", run.duplicates + run.event_duplicates, "messages")
    if not n:
        return
    gross, spent = dict(cpu_ms_per(run.cpu, n)), cpu_ms_per(net(run), n)
    for proc, ms in spent:
        report(f"  ... CPU per accepted send: {proc}", f"{ms:.2f} ms net of idle ({gross.get(proc, 0.0):.2f} gross)")
        figure(f"{name}_cpu_ms_per_send_{proc.replace(' ', '_').replace('#', '_')}", ms, "ms")
    figure(f"{name}_cpu_ms_per_send_gross_total", gross["total"], "ms")
    whole = cpu_ms_per(run.cpu_whole, n)[-1][1]  # the measured sends' life (and a share of the warm-up's)
    report(f"{run.label}: CPU per send, accept to receipt", f"{whole:.2f} ms gross")
    figure(f"{name}_cpu_ms_per_delivered_send_total", whole, "ms")


def _side_by_side(runs: list[Run], report: Report, figure: Figure) -> None:
    """Each run with two replicas against the one with one: ``scaleout_cpu_per_send_ratio`` with the same
    connections (the load spread over twice the replicas: each one's batches are half as large), and
    ``scaleout_doubled_cpu_per_send_ratio`` with twice the connections (each replica under the load one had)."""
    if len(runs) < 2 or not runs[0].sends:
        return
    one = runs[0]
    a = cpu_ms_per(net(one), one.sends)[-1][1]
    for two in runs[1:]:
        if not two.sends:
            continue
        b = cpu_ms_per(net(two), two.sends)[-1][1]
        report(f"{two.label} vs {one.label}: sends/s, CPU ms per send (net)",
               f"{two.sends / two.seconds:,.0f} vs {one.sends / one.seconds:,.0f}, {b:.2f} vs {a:.2f} "
               f"({(b / a - 1) * 100:+.0f} %)")
        figure(f"{two.name}_cpu_per_send_ratio", b / a, "x")
