"""`make run`'s supervisor: embedded NATS + PostgreSQL, every service as a child process; a killed
service is restarted; a second run keeps the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from libs.embedded.servers import free_port, free_port_block


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
    base = free_port_block(6)
    ports = {"gw": free_port(), "sim": free_port(), "nats": free_port(), "pg": free_port(), "base": base}
    with tempfile.TemporaryDirectory(prefix="am-devstack-", dir="/tmp") as d:
        os.chmod(d, 0o755)
        with Devstack(d, ports) as stack:
            signup = _post(stack.api + "/v1/signup", {"email": "dev@example.com", "password": "a long password",
                                                      "organization_name": "Dev"})
            key = signup["data"]["api_key"]["secret"]
            children = _children(stack.proc.pid)
            assert {"accounts", "numbers", "compliance", "outbound", "inbound", "gateway", "carrier_sim"} <= set(children)
            os.kill(children["accounts"], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                healed = _children(stack.proc.pid).get("accounts")
                if healed and healed != children["accounts"] and _get(f"http://127.0.0.1:{base + 1}/readyz")[0] == 200:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError("accounts was not restarted")
            assert _get(stack.api + "/v1/balance", key)[0] == 200
        with Devstack(d, ports) as stack:  # the second run keeps the data
            status, body = _get(stack.api + "/v1/balance", key)
            assert status == 200 and body["data"]["balance"] == "5.0000"
