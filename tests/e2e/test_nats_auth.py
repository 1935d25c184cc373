"""The whole system on a NATS server running the shipped configuration (deploy/components/nats), each
service connected as its own user with the permissions given there: onboarding, consent, a message sent
and delivered, a message received. A permission missing from the configuration makes a step time out."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import nats

from libs.embedded.ports import free_port
from libs.embedded.servers import nats_server_binary
from tests.deploy.test_nats_config import USERS, write_config
from tests.e2e.test_outbound import onboard
from tests.system import running_system

SERVICES = ("gateway", "accounts", "numbers", "compliance", "outbound", "inbound", "carrier")


async def test_every_service_works_as_its_own_nats_user(settings_env: dict[str, str], tmp_path: Path) -> None:
    root = settings_env["AM_SUBJECT_ROOT"]
    env = write_config("dev", tmp_path)
    auth = tmp_path / "auth.conf"  # the shipped permissions, for this test's subject root
    text = auth.read_text(encoding="utf-8").replace('"am.', f'"{root}.')  # subjects, then streams and buckets
    text = text.replace(".AM_", f".{root.upper()}_").replace("KV_AM_", f"KV_{root.upper()}_")
    auth.write_text(text, encoding="utf-8")
    port = free_port()
    server = subprocess.Popen([nats_server_binary(), "-c", str(tmp_path / "nats.conf"), "-a", "127.0.0.1",
                               "-p", str(port), "-m", str(free_port())], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # until it listens
            try:
                nc = await nats.connect(f"nats://amctl:pw-amctl@127.0.0.1:{port}", connect_timeout=1,
                                        allow_reconnect=False, max_reconnect_attempts=0)
                await nc.close()
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, "nats-server did not start"
                await asyncio.sleep(0.1)
        assert set(SERVICES) < set(USERS)
        base = {**settings_env, "AM_NATS_URL": f"nats://amctl:pw-amctl@127.0.0.1:{port}"}  # no service's
        per_service = {s: {"AM_NATS_URL": f"nats://{s}:pw-{s}@127.0.0.1:{port}"} for s in SERVICES}
        async with running_system(base, per_service=per_service) as system:
            org = await onboard(system)
            contact = await org.new_contact()
            await org.delivered(contact)

            status, _, _ = await system.call("POST", "/sim/messages",
                                             json={"from": contact, "to": org.number, "text": "hello back"})
            assert status == 202

            async def received() -> Any:
                _, got, _ = await org.call("GET", "/v1/inbound-messages")
                return [m for m in got["data"] if m["body"] == "hello back"] or None

            await system.eventually(received, timeout=20, interval=0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
