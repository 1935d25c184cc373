"""python -m services.devstack — start the whole system and supervise it until Ctrl-C."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from libs.backoff import backoff
from libs.bus.auth import SERVICE_USERS
from libs.embedded.ports import port_free
from libs.embedded.servers import EmbeddedNats, EmbeddedPostgres, PortTaken
from libs.obs.settings import load_settings


class DevstackSettings(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: str = ".data"
    """Where embedded NATS and PostgreSQL keep their state (AM_DATA_DIR)."""
    gateway_port: int = 8080
    sim_port: int = 8090
    nats_port: int = 14222
    """Embedded NATS port; not 4222, so a NATS already there is left alone."""
    pg_port: int = 15432
    """Embedded PostgreSQL port; not 5432, for the same reason."""
    nats_url: str = ""
    """Use this NATS instead of the embedded one (AM_NATS_URL)."""
    database_url: str = ""
    """Use this PostgreSQL instead of the embedded one (AM_DATABASE_URL)."""
    env: str = "dev"
    service_port_base: int = 8180
    """Internal health/callback ports: accounts +1, numbers +2, compliance +3, outbound +4, inbound +5,
    carrier +6."""
    subject_root: str = "am"
    """First token of every subject (the NATS permissions are written for it)."""
    sim_smpp_port: int = 0
    """The simulator's SMSC port (AM_SIM_SMPP_PORT); 0 = AM_SIM_PORT + 1."""
    sim_smpp_window: int = 100
    """The simulator SMSC's window (AM_SIM_SMPP_WINDOW: deliver_sm it keeps unanswered). The carrier
    service binds to it with as many submit_sm outstanding (at most 1,000), where an SMSC given by URL gets
    the URL's ``window`` (default 10)."""
    smpp_url: str = ""
    """An SMSC to send and receive through instead of the simulator's (AM_SMPP_URL); numbers and 10DLC
    stay with the simulator's HTTP API."""


SERVICES = ["accounts", "numbers", "compliance", "carrier", "outbound", "inbound", "carrier_sim", "gateway"]


def say(msg: str) -> None:
    print(f"[devstack] {msg}", flush=True)


@dataclass
class Child:
    name: str
    env: dict[str, str]
    log: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    failures: int = 0
    """Restarts since it last ran long enough to count as up (the backoff step)."""
    task: asyncio.Task[None] | None = field(default=None)


async def supervise(child: Child, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        with open(child.log, "ab") as out:
            child.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"services.{child.name}", env=child.env,
                stdout=out, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
            )
        child.started_at = time.monotonic()
        code = await child.proc.wait()
        if stopping.is_set():
            return
        if time.monotonic() - child.started_at > 30:
            child.failures = 0
        child.restarts += 1
        child.failures += 1
        delay = backoff(child.failures, 0.5, 30.0)
        say(f"{child.name} exited with {code}; restart #{child.restarts} in {delay:.1f}s (log: {child.log})")
        try:
            await asyncio.wait_for(stopping.wait(), delay)
        except TimeoutError:
            pass


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return int(r.status)
    except Exception:
        return 0


INTERNAL = {"accounts": 1, "numbers": 2, "compliance": 3, "outbound": 4, "inbound": 5, "carrier": 6}
NATS_USERS = SERVICE_USERS
"""Services that connect to NATS, each as its own user (the simulator does not use NATS)."""


def needed_ports(cfg: DevstackSettings) -> list[tuple[int, str]]:
    """Every port this stack will listen on, with the setting that moves it."""
    out = [(cfg.gateway_port, "AM_GATEWAY_PORT"), (cfg.sim_port, "AM_SIM_PORT"),
           (cfg.sim_smpp_port or cfg.sim_port + 1, "AM_SIM_SMPP_PORT")]
    if not cfg.nats_url:
        out.append((cfg.nats_port, "AM_NATS_PORT"))
    if not cfg.database_url:
        out.append((cfg.pg_port, "AM_PG_PORT"))
    out += [(cfg.service_port_base + i, f"AM_SERVICE_PORT_BASE (+{i}, {name})") for name, i in INTERNAL.items()]
    return out


def port_problems(cfg: DevstackSettings) -> list[str]:
    """What stands in the way before anything starts: a port in use, or two settings naming one port."""
    problems: list[str] = []
    seen: dict[int, str] = {}
    for port, var in needed_ports(cfg):
        if port in seen:
            problems.append(f"port {port} is named twice ({seen[port]} and {var}): change {var.split()[0]}")
        elif not port_free(port):
            problems.append(f"port {port} ({var}) is already in use: stop what holds it or set {var.split()[0]}")
        seen.setdefault(port, var)
    return problems


@dataclass
class Infra:
    """An embedded server supervised like the services: a dead one is reaped and started again."""

    name: str
    server: EmbeddedNats | EmbeddedPostgres
    restarts: int = 0


async def supervise_infra(infra: Infra, stopping: asyncio.Event) -> None:
    failures = 1
    while not stopping.is_set():
        if infra.server.alive():  # (a dead server is reaped by this poll)
            try:
                await asyncio.wait_for(stopping.wait(), 0.5)
            except TimeoutError:
                pass
            continue
        proc = infra.server.proc
        infra.restarts += 1
        delay = backoff(failures, 0.5, 10.0)
        say(f"{infra.name} exited with {proc.returncode if proc else '?'}; restart #{infra.restarts} "
            f"in {delay:.1f}s")
        try:
            await asyncio.wait_for(stopping.wait(), delay)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.to_thread(infra.server.start)
            say(f"{infra.name} restarted")
            failures = 1
        except Exception as exc:
            say(f"{infra.name} did not restart ({str(exc).splitlines()[0] if str(exc) else repr(exc)}); "
                "trying again")
            failures += 1


async def main() -> int:
    servers: list[EmbeddedNats | EmbeddedPostgres] = []
    try:
        return await _main(servers)
    finally:
        for srv in reversed(servers):
            srv.stop()


async def _main(servers: list[EmbeddedNats | EmbeddedPostgres]) -> int:
    started = time.monotonic()
    cfg = load_settings(DevstackSettings)
    data = Path(cfg.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    lock = open(data / "devstack.lock", "a")  # held (and locked) for the life of the process
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        say(f"another `make run` uses {data}: stop it, or set AM_DATA_DIR")
        return 1
    embedded = _start_infra(cfg, data, servers)
    if embedded is None:
        return 1
    nats_srv, pg_srv, nats_url, db_url = embedded
    from libs.store.db import ensure_database

    await ensure_database(db_url)
    base = cfg.service_port_base
    ports = {name: base + i for name, i in INTERNAL.items()}
    ports.update({"carrier_sim": cfg.sim_port, "gateway": cfg.gateway_port})
    smsc_port = cfg.sim_smpp_port or cfg.sim_port + 1
    common = _environment(cfg, data, nats_url, db_url, ports, smsc_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    infra = [Infra(n, srv) for n, srv in (("NATS", nats_srv), ("PostgreSQL", pg_srv)) if srv is not None]
    infra_tasks = [asyncio.create_task(supervise_infra(i, stopping)) for i in infra]
    children = _spawn(common, ports, nats_srv, logs, stopping)
    say(f"services starting; logs in {logs}")
    await _until_stopped(cfg, started, children, infra, ports, logs, smsc_port, stopping)
    await _stop(children, infra_tasks)
    say("stopped")
    return 0


def _start_infra(cfg: DevstackSettings, data: Path, servers: list[EmbeddedNats | EmbeddedPostgres]
                 ) -> tuple[EmbeddedNats | None, EmbeddedPostgres | None, str, str] | None:
    """Embedded NATS and PostgreSQL, unless AM_NATS_URL / AM_DATABASE_URL name others; None: a port is
    taken (said why)."""
    nats_srv: EmbeddedNats | None = None
    pg_srv: EmbeddedPostgres | None = None
    nats_url, db_url = cfg.nats_url, cfg.database_url
    if not nats_url:
        nats_srv = EmbeddedNats(data / "nats", cfg.nats_port, subject_root=cfg.subject_root)
        nats_srv.stop_leftover()  # a server a killed run left behind is ours, not a port conflict
    if not db_url:
        pg_srv = EmbeddedPostgres(data / "postgres", cfg.pg_port)
        pg_srv.stop_leftover()
    problems = port_problems(cfg)
    for p in problems:
        say(p)
    if problems:
        return None
    if nats_srv is not None:
        if not _started(nats_srv, servers, f"port {cfg.nats_port} is taken; set AM_NATS_PORT or AM_NATS_URL"):
            return None
        nats_url = nats_srv.url
        say(f"embedded NATS at {nats_url} (authentication on; credentials in {nats_srv.data_dir / 'credentials.json'})")
    if pg_srv is not None:
        if not _started(pg_srv, servers, f"port {cfg.pg_port} is taken; set AM_PG_PORT or AM_DATABASE_URL"):
            return None
        db_url = pg_srv.url
        say(f"embedded PostgreSQL at {db_url}")
    return nats_srv, pg_srv, nats_url, db_url


def _started(srv: EmbeddedNats | EmbeddedPostgres, servers: list[EmbeddedNats | EmbeddedPostgres],
             port_taken: str) -> bool:
    """Start ``srv`` and keep it in ``servers`` (to stop at the end); False: its port is taken (said so)."""
    try:
        srv.start()
    except PortTaken:
        say(port_taken)
        return False
    servers.append(srv)
    return True


def simulator_smpp_url(cfg: DevstackSettings, smsc_port: int) -> str:
    """The simulator's SMSC as the carrier service binds to it: with the simulator's own window (the
    cautious default of 10 outstanding submit_sm, kept for an SMSC we know nothing of, held every
    submission a window slot's round trip behind nine others — a fifth more CPU per delivered message in
    the bench, the batches behind it that much smaller)."""
    return f"smpp://agentmsg:simpass1@127.0.0.1:{smsc_port}?window={min(max(cfg.sim_smpp_window, 1), 1000)}"


def _environment(cfg: DevstackSettings, data: Path, nats_url: str, db_url: str, ports: dict[str, int],
                 smsc_port: int) -> dict[str, str]:
    """Every child's environment: ours, then the stack's addresses and callback URLs."""
    smpp_url = cfg.smpp_url or simulator_smpp_url(cfg, smsc_port)
    common = {k: v for k, v in os.environ.items() if not k.startswith("AM_")}
    common.update({k: v for k, v in os.environ.items() if k.startswith("AM_")})
    common.update({
        "AM_ENV": cfg.env, "AM_NATS_URL": nats_url, "AM_DATABASE_URL": db_url,
        "AM_GATEWAY_PORT": str(cfg.gateway_port), "AM_SIM_PORT": str(cfg.sim_port),
        "AM_SIM_URL": f"http://127.0.0.1:{cfg.sim_port}",
        "AM_SIM_MO_CALLBACK_URL": f"http://127.0.0.1:{ports['carrier']}/carrier/mo",
        "AM_SIM_DLR_CALLBACK_URL": f"http://127.0.0.1:{ports['carrier']}/carrier/dlr",
        "AM_SIM_SMPP_PORT": str(smsc_port),
        "AM_SMPP_URL": smpp_url,
        "AM_SIM_CAMPAIGN_CALLBACK_URL": f"http://127.0.0.1:{ports['numbers']}/carrier/campaigns",
        "AM_SIM_STATE_FILE": str(data / "carrier_sim.json"),
        "AM_SIM_REVIEW_DELAY_MS": os.environ.get("AM_SIM_REVIEW_DELAY_MS", "3000"),
        "AM_DB_POOL_MIN": os.environ.get("AM_DB_POOL_MIN", "10"),  # warm pools: bursts wait for no connect
        "PYTHONUNBUFFERED": "1",
    })
    return common


def _spawn(common: dict[str, str], ports: dict[str, int], nats_srv: EmbeddedNats | None, logs: Path,
           stopping: asyncio.Event) -> list[Child]:
    children = []
    for name in SERVICES:
        env = dict(common)
        env["AM_HTTP_PORT"] = str(ports[name])
        if nats_srv is not None:  # each service its own least-privilege user (the sim uses no NATS)
            env.pop("AM_NATS_USER", None)
            env.pop("AM_NATS_PASSWORD", None)
            if name in NATS_USERS:
                env["AM_NATS_USER"], env["AM_NATS_PASSWORD"] = name, nats_srv.credentials[name]
        child = Child(name, env, logs / f"{name}.log")
        child.task = asyncio.create_task(supervise(child, stopping))
        children.append(child)
    return children


async def _until_stopped(cfg: DevstackSettings, started: float, children: list[Child], infra: list[Infra],
                         ports: dict[str, int], logs: Path, smsc_port: int, stopping: asyncio.Event) -> None:
    """Say when the stack is ready (and what it still waits for, past 30 s), until Ctrl-C."""
    gw = f"http://127.0.0.1:{cfg.gateway_port}"
    ready = False
    told = False
    while not stopping.is_set():
        if not ready:
            # ready only when our own children answer: each running (not crash-looping: up for a
            # second at least) and every readiness probe 200
            now = time.monotonic()
            steady = all(c.proc is not None and c.proc.returncode is None and now - c.started_at >= 1.0
                         for c in children) and all(i.server.alive() for i in infra)
            statuses = {n: _get(f"http://127.0.0.1:{p}/readyz") for n, p in ports.items() if n != "carrier_sim"}
            if not told and time.monotonic() - started > 30 and any(s != 200 for s in statuses.values()):
                told = True  # say what we wait for (a refused SMPP bind keeps the carrier service unready)
                waiting = ", ".join(sorted(n for n, s in statuses.items() if s != 200))
                say(f"still waiting for: {waiting} (GET /readyz on its port says why; logs in {logs})")
            if (steady and all(s == 200 for s in statuses.values())
                    and _get(f"http://127.0.0.1:{cfg.sim_port}/carrier/v1/healthz") == 200):
                ready = True
                say(f"ready in {time.monotonic() - started:.1f}s")
                print(f"\n  Dashboard:          {gw}/   (sign up at {gw}/signup)\n"
                      f"  AgentMessage API:   {gw}/v1   (reference: {gw}/docs, OpenAPI: {gw}/v1/openapi.json)\n"
                      f"  Carrier simulator:  http://127.0.0.1:{cfg.sim_port}   (POST /sim/messages to text a number)\n"
                      f"  Messaging over:     {'AM_SMPP_URL (your SMSC)' if cfg.smpp_url else f'SMPP, the simulator SMSC on 127.0.0.1:{smsc_port}'}\n"
                      f"  Get a key:          curl -s {gw}/v1/signup -H 'Content-Type: application/json' "
                      "-d '{\"email\":\"you@example.com\",\"password\":\"a-long-password\",\"organization_name\":\"Me\"}'\n"
                      f"  Operator CLI:       .venv/bin/amctl events tail\n  Stop:               Ctrl-C\n", flush=True)
        try:
            await asyncio.wait_for(stopping.wait(), 0.5)
        except TimeoutError:
            pass


async def _stop(children: list[Child], infra_tasks: list[asyncio.Task[None]]) -> None:
    say("stopping")
    for t in infra_tasks:
        t.cancel()
    for c in children:
        if c.proc and c.proc.returncode is None:
            c.proc.send_signal(signal.SIGTERM)
    for c in children:
        if c.proc:
            try:
                await asyncio.wait_for(c.proc.wait(), 12)
            except TimeoutError:
                c.proc.kill()
        if c.task:
            c.task.cancel()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
