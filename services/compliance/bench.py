"""Gate benchmark: decisions/s and latency of am.cmd.compliance.evaluate_send, every decision recorded.

``python -m services.compliance.bench [--n 20000] [--concurrency 16 32] [--nats URL --database URL]``
runs the compliance service in its own process (as deployed) against real NATS and PostgreSQL (embedded
ones when no URLs are given), answers numbers' sender_status itself (cached by the gate anyway), records
consent for 500 contacts, then sends evaluate_send requests from a closed loop of ``concurrency`` callers.
Prints one JSON line per concurrency level."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import msgspec
import nats
from nats.aio.msg import Msg

from libs.bus.rpc import RpcClient
from proto.commands import compliance as c
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.subjects import Subjects

FROM = "+14155550100"


@contextlib.contextmanager
def _servers(nats_url: str | None, database_url: str | None) -> Iterator[tuple[str, str]]:
    from libs.testing.infra import nats_server, postgres_server

    with contextlib.ExitStack() as stack:
        n = nats_url or stack.enter_context(nats_server())
        d = database_url or stack.enter_context(postgres_server())
        yield n, d


async def _bench(nats_url: str, database_url: str, n: int, levels: list[int]) -> None:
    root = "bench" + uuid.uuid4().hex[:6]
    env = {**os.environ, "AM_ENV": "test", "AM_NATS_URL": nats_url, "AM_DATABASE_URL": database_url,
           "AM_SUBJECT_ROOT": root, "AM_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "services.compliance"], env=env)
    nc = await nats.connect(nats_url)
    try:
        subjects = Subjects(root)
        enabled = msgspec.json.encode({"ok": True, "data": SenderInfo(phone_number_id="bench", e164=FROM,
                                                                     sending_enabled=True)})

        async def sender_status(msg: Msg) -> None:
            await msg.respond(enabled)

        await nc.subscribe(subjects.command(SenderStatus.DOMAIN, SenderStatus.NAME), cb=sender_status)
        rpc = RpcClient(nc, subjects)
        org = str(uuid.uuid4())
        for _ in range(150):
            try:
                await rpc.call(c.GetSettings(org_id=org), timeout=0.5)
                break
            except Exception:
                await asyncio.sleep(0.2)
        await rpc.call(c.UpdateSettings(org_id=org, quiet_hours_enabled=False))
        contacts = [f"+1415555{i:04d}" for i in range(500)]
        for to in contacts:
            await rpc.call(c.RecordConsent(
                org_id=org, contact_number=to, method="web_form", evidence=c.EvidenceView(disclosure_text="bench")))
        for concurrency in levels:
            print(json.dumps(await _level(rpc, org, contacts, n, concurrency)), flush=True)
    finally:
        await nc.close()
        proc.terminate()
        proc.wait(15)


async def _level(rpc: RpcClient, org: str, contacts: list[str], n: int, concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            t = time.perf_counter()
            d: c.SendDecision = await rpc.call(c.EvaluateSend(
                org_id=org, message_id=str(uuid.uuid4()), from_=FROM, to=contacts[i % len(contacts)], text="bench"))
            latencies.append(time.perf_counter() - t)
            assert d.decision == "allow", d

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"bench": "gate_decisions", "concurrency": concurrency, "decisions": n, "per_s": round(n / elapsed),
            "p50_ms": round(latencies[n // 2] * 1000, 2), "p99_ms": round(latencies[int(n * 0.99)] * 1000, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--concurrency", type=int, nargs="+", default=[16, 32])
    p.add_argument("--nats")
    p.add_argument("--database")
    a = p.parse_args()
    with _servers(a.nats, a.database) as (n, d):
        asyncio.run(_bench(n, d, a.n, a.concurrency))


if __name__ == "__main__":
    main()
