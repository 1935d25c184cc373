"""`make run`'s supervisor: embedded NATS + PostgreSQL, every service as a child process; a killed
service is restarted; a second run keeps the data."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from libs.embedded.ports import free_port, free_port_block


def _get(url: str, key: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None
    except Exception:
        return 0, None


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _children(pid: int) -> dict[str, int]:
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and len(cmd) > 2 and cmd[1] == b"-m":
            out[cmd[2].decode().removeprefix("services.")] = int(d.name)
    return out


@contextlib.contextmanager
def scratch(prefix: str = "am-devstack-") -> Iterator[tuple[str, dict[str, int]]]:
    """Free ports for a devstack (``Devstack(d, ports)``) and a fresh data directory, removed after."""
    base = free_port_block(6)
    ports = {"gw": free_port(), "sim": free_port(), "nats": free_port(), "pg": free_port(), "base": base}
    with tempfile.TemporaryDirectory(prefix=prefix, dir="/tmp") as d:
        os.chmod(d, 0o755)
        yield d, ports


class Devstack:
    def __init__(self, data_dir: str, ports: dict[str, int]):
        self.env = {**os.environ, "AM_DATA_DIR": data_dir, "AM_GATEWAY_PORT": str(ports["gw"]),
                    "AM_SIM_PORT": str(ports["sim"]), "AM_NATS_PORT": str(ports["nats"]),
                    "AM_PG_PORT": str(ports["pg"]), "AM_SERVICE_PORT_BASE": str(ports["base"]),
                    "AM_LOG_LEVEL": "warning"}
        for k in ("AM_NATS_URL", "AM_DATABASE_URL", "AM_SUBJECT_ROOT"):
            self.env.pop(k, None)
        self.ports = ports
        self.api = f"http://127.0.0.1:{ports['gw']}"

    def __enter__(self) -> Devstack:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.devstack"], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:  # type: ignore[union-attr]
            if "ready in" in line:
                return self
        raise AssertionError(f"devstack exited before ready ({self.proc.wait()})")

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(40) == 0


def test_supervisor_heals_a_killed_service_and_data_survives_a_restart() -> None:
    with scratch() as (d, ports):
        with Devstack(d, ports) as stack:
            signup = _post(stack.api + "/v1/signup", {"email": "dev@example.com", "password": "a long password",
                                                      "organization_name": "Dev"})
            key = signup["data"]["api_key"]["secret"]
            # the carrier service binds to the simulator's SMSC with the simulator's window (100), not the 10
            # an SMSC given by URL gets by default
            done = subprocess.run([sys.executable, "-m", "services.amctl", "carrier", "status", "--json"],
                                  env={**stack.env, "AM_NATS_URL": f"nats://127.0.0.1:{ports['nats']}"},
                                  capture_output=True, text=True, timeout=60)
            assert '"binds"' in done.stdout, done.stdout + done.stderr
            assert [b["window"] for b in json.loads(done.stdout)["binds"]] == [100], done.stdout
            children = _children(stack.proc.pid)
            assert {"accounts", "numbers", "compliance", "outbound", "inbound", "gateway", "carrier_sim"} <= set(children)
            os.kill(children["accounts"], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                healed = _children(stack.proc.pid).get("accounts")
                if healed and healed != children["accounts"] and _get(f"http://127.0.0.1:{ports['base'] + 1}/readyz")[0] == 200:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError("accounts was not restarted")
            assert _get(stack.api + "/v1/balance", key)[0] == 200
        with Devstack(d, ports) as stack:  # the second run keeps the data
            status, body = _get(stack.api + "/v1/balance", key)
            assert status == 200 and body["data"]["balance"] == "5.0000"


def _run_until_exit(env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "services.devstack"], env=env, capture_output=True, text=True,
                          timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_a_taken_port_is_named_before_anything_starts() -> None:
    with scratch() as (d, ports):
        env = Devstack(d, ports).env
        for port, variable in ((ports["base"] + 3, "AM_SERVICE_PORT_BASE"), (ports["gw"], "AM_GATEWAY_PORT"),
                               (ports["nats"], "AM_NATS_PORT"), (ports["pg"], "AM_PG_PORT")):
            with socket.socket() as holder:
                holder.bind(("127.0.0.1", port))
                holder.listen()
                code, out = _run_until_exit(env)
            assert code == 1, out
            assert f"port {port}" in out and f"set {variable}" in out, out
            assert "] ready in" not in out and not (Path(d) / "nats" / "nats.pid").exists(), out


def _pid(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _signup_works(api: str) -> bool:
    try:
        _post(api + "/v1/signup", {"email": f"dev-{time.monotonic_ns()}@example.com", "password": "a long password",
                                   "organization_name": "Dev"})
        return True
    except Exception:
        return False


def test_killed_nats_and_postgres_are_reaped_and_restarted() -> None:
    with scratch() as (d, ports):
        with Devstack(d, ports) as stack:
            assert _signup_works(stack.api)
            # amctl reads as the ops user from the data dir's credentials; NATS refuses anyone without them
            amctl = [sys.executable, "-m", "services.amctl", "streams"]
            env = {**stack.env, "AM_NATS_URL": f"nats://127.0.0.1:{ports['nats']}"}
            done = subprocess.run(amctl, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0 and "AM_ACCOUNTS" in done.stdout, done.stdout + done.stderr
            done = subprocess.run(amctl, env={**env, "AM_DATA_DIR": "/nonexistent"}, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode != 0 and "authorization" in (done.stdout + done.stderr).lower(), done
            for pidfile in (Path(d) / "nats" / "nats.pid", Path(d) / "postgres" / "pgdata" / "postmaster.pid"):
                old = _pid(pidfile)
                assert _alive(old), pidfile
                os.kill(old, signal.SIGKILL)
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    new = _pid(pidfile)
                    # the dead one is reaped (no zombie left), a new one runs, and the API works again
                    if (not _alive(old) and not Path(f"/proc/{old}").exists() and new not in (0, old)
                            and _alive(new) and _signup_works(stack.api)):
                        break
                    time.sleep(0.3)
                else:
                    raise AssertionError(f"{pidfile.name}: not restarted (old {old}, now {_pid(pidfile)})")


def test_not_ready_while_a_service_crash_loops() -> None:
    with scratch() as (d, ports):
        env = {**Devstack(d, ports).env, "AM_INBOUND_WEBHOOK_TIMEOUT_S": "not-a-number"}  # inbound cannot start
        proc = subprocess.Popen([sys.executable, "-m", "services.devstack"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        seen: list[str] = []
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                seen.append(line)
                assert "] ready in" not in line, "".join(seen)
                if "inbound exited" in line and "restart #3" in line:
                    break
            else:
                raise AssertionError("".join(seen))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
