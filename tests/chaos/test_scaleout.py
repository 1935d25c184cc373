"""Scale-out without loss or duplicates: two gateways and two outbound services against a 3-node
JetStream cluster (every stream replicated three times), sends through both gateways, and every accepted
message delivered, handed to the carrier once and delivered once on the bus (``tests/scaleout.py``; the
timed version, one process per replica, is ``AM_BENCH_ONLY=scaleout make bench``).

The services run in this process (as every e2e test's do), each replica its own service with its own
NATS connection, database pool, caches, relay and dispatcher: which replica leads the dispatcher and each
relay is settled by PostgreSQL advisory locks, the commands by NATS queue groups and the events by shared
durable consumers, exactly as between processes."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import nats

from libs.embedded.cluster import NatsCluster
from libs.embedded.ports import free_port
from libs.runtime.service import Service
from proto.subjects import Subjects
from tests.scaleout import LOAD_ENV, SCALEOUT_ENV, InProcess, Run, prepare, send_load, verify
from tests.system import System, running_system

SENDS = 200


async def test_two_replicas_on_a_jetstream_cluster_lose_and_double_nothing(
        database_url: str, subject_root: str) -> None:
    with tempfile.TemporaryDirectory(prefix="am-cluster-", dir="/tmp") as d:
        cluster = NatsCluster(Path(d)).start()
        try:
            await cluster.wait_ready()
            env = {"AM_ENV": "test", "AM_NATS_URL": cluster.url_for(), "AM_DATABASE_URL": database_url,
                   "AM_SUBJECT_ROOT": subject_root, "AM_LOG_LEVEL": "warning", **SCALEOUT_ENV, **LOAD_ENV}
            async with running_system(env) as system:
                second = [await _replica(system, name) for name in ("gateway", "outbound")]
                try:
                    target = InProcess(system.gateway, system.sim, system.env)
                    run = await prepare(target, [system.gateway, second[0][1]], orgs=2, contacts=10)
                    await send_load(run, 8, count=SENDS)
                    await verify(target, run, budget_s=60)
                    replicas = await _stream_replicas(system.env)
                finally:
                    for svc, _ in second:
                        await svc.stop()
        finally:
            cluster.stop()
    _assert_exactly_once(run)
    assert set(replicas.values()) == {3}, replicas  # the streams and the gateway's KV buckets


async def _replica(system: System, name: str) -> tuple[Service, str]:
    """One more ``name`` service, on a port of its own; answers it and its URL."""
    port = free_port()
    env = {**system.env, "AM_HTTP_PORT": str(port), "AM_GATEWAY_PORT": str(port)}
    svc, setup = importlib.import_module(f"services.{name}.app").build(env)
    await svc.start(setup)
    return svc, f"http://127.0.0.1:{port}"


def _assert_exactly_once(run: Run) -> None:
    assert len(run.accepted) == SENDS and run.refused == 0
    assert len(run.by_gateway) == 2 and min(run.by_gateway.values()) > 0, run.by_gateway  # both gateways sent
    assert run.delivered == SENDS, f"{SENDS - run.delivered} accepted messages not delivered"
    assert run.lost == 0
    assert run.duplicates == 0, f"{run.duplicates} texts reached a handset twice"
    assert run.event_duplicates == 0, f"{run.event_duplicates} messages delivered twice on the bus"


async def _stream_replicas(env: dict[str, str]) -> dict[str, int]:
    subjects = Subjects(env["AM_SUBJECT_ROOT"])
    root = subjects.root.upper()
    names = [subjects.stream_name(d) for d in ("outbound", "accounts", "carrier")] + [
        f"KV_{root}_IDEMPOTENCY", f"KV_{root}_KEY_USAGE"]
    nc = await nats.connect(servers=env["AM_NATS_URL"].split(","))
    try:
        js = nc.jetstream()
        return {name: int((await js.stream_info(name)).config.num_replicas or 1) for name in names}
    finally:
        await nc.close()
