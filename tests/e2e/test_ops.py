"""Ops: `amctl events tail` shows events as they happen; `amctl streams` lists lag; health endpoints."""

from __future__ import annotations

import asyncio
import sys

from tests.system import System, running_system


async def _amctl(env: dict[str, str], *args: str, timeout: float = 15) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.amctl", *args, env={**env, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_events_tail_follows_live_events(settings_env: dict[str, str]) -> None:
    async with running_system(settings_env, only=["accounts", "gateway"]) as system:
        env = {"AM_NATS_URL": settings_env["AM_NATS_URL"], "AM_SUBJECT_ROOT": settings_env["AM_SUBJECT_ROOT"]}
        tail = asyncio.create_task(_amctl(env, "events", "tail", "--limit", "3"))
        await asyncio.sleep(1.5)  # the tail subscribes to new events only
        data = await system.signup()
        out = await tail
        root = settings_env["AM_SUBJECT_ROOT"]
        assert f"{root}.accounts.organization.organization_created.{data['organization']['id']}" in out
        assert "OrganizationCreated" in out and "ApiKeyCreated" in out
        history = await _amctl(env, "events", "tail", f"{root}.accounts.>", "--org", data["organization"]["id"],
                               "--since", "5m", "--limit", "3", "--json")
        assert history.count('"type"') == 3
        streams = await _amctl(env, "streams")
        assert f"{root.upper()}_ACCOUNTS" in streams


async def test_every_service_is_healthy_and_ready(system: System) -> None:
    assert system.http is not None
    for name, svc in system.services.items():
        async with system.http.get(f"http://127.0.0.1:{svc.port}/healthz") as r:
            assert r.status == 200, name
        async with system.http.get(f"http://127.0.0.1:{svc.port}/readyz") as r:
            body = await r.json()
            assert r.status == 200 and body["ready"], (name, body)
        async with system.http.get(f"http://127.0.0.1:{svc.port}/metrics") as r:
            assert r.status == 200 and "am_" in await r.text()
