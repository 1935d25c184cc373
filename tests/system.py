"""The whole system in-process for end-to-end tests: every service and the carrier simulator on
their own ports, isolated by a subject root (streams, subjects and schemas of their own)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from libs.embedded.ports import free_port
from libs.runtime.service import Service
from libs.testing import SLACK
from libs.testing.infra import service_nats_env

SERVICES = ["accounts", "numbers", "compliance", "carrier", "outbound", "inbound", "gateway"]


@dataclass
class System:
    env: dict[str, str]
    gateway: str
    sim: str
    services: dict[str, Service] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None

    async def call(self, method: str, path: str, key: str | None = None, json: Any = None,
                   headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        assert self.http is not None
        h = dict(headers or {})
        if key:
            h["Authorization"] = f"Bearer {key}"
        url = (self.sim if path.startswith("/sim") else self.gateway) + path
        async with self.http.request(method, url, json=json, headers=h, **kw) as r:
            try:
                body = await r.json(content_type=None)
            except Exception:
                body = await r.text()
            return r.status, body, dict(r.headers)

    async def signup(self, email: str | None = None) -> dict[str, Any]:
        status, body, _ = await self.call("POST", "/v1/signup", json={
            "email": email or f"dev-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery",
            "organization_name": "Test Org"})
        assert status == 201, body
        return dict(body["data"])

    async def order_number(self, key: str, area_code: str = "415") -> dict[str, Any]:
        """Quickstart step 2: search the carrier's numbers in an area code and order the first one."""
        status, body, _ = await self.call("POST", "/v1/phone-numbers/search", key=key,
                                          json={"area_code": area_code, "quantity": 5})
        assert status == 200, body
        status, body, _ = await self.call("POST", "/v1/phone-numbers/orders", key=key,
                                          json={"numbers": [body["data"][0]["phone_number"]]})
        assert status == 201, body
        return dict(body["data"]["phone_numbers"][0])

    async def approved_campaign(self, key: str, brand: dict[str, Any], campaign: dict[str, Any],
                                timeout: float = 10.0) -> dict[str, Any]:
        """Quickstart steps 3-4: a brand, a campaign on it, and the wait for the carrier's approval."""
        status, made, _ = await self.call("POST", "/v1/brands", key=key, json=brand)
        assert status == 201, made
        status, camp, _ = await self.call("POST", "/v1/campaigns", key=key,
                                          json={**campaign, "brand_id": made["data"]["id"]})
        assert status == 201, camp

        async def approved() -> bool:
            _, got, _ = await self.call("GET", f"/v1/campaigns/{camp['data']['id']}", key=key)
            assert got["data"]["status"] != "rejected", got
            return bool(got["data"]["status"] == "approved")

        await self.eventually(approved, timeout=timeout)
        return dict(camp["data"])

    async def another_gateway(self, **env: str) -> tuple[Service, str]:
        """Another gateway replica on the same bus, started (the caller stops it), as a load balancer would
        have; ``env`` overrides its settings by field name. Answers the replica and its base URL."""
        port = free_port()
        svc, setup = importlib.import_module("services.gateway.app").build(
            {**self.env, "AM_GATEWAY_PORT": str(port), **{f"AM_{k.upper()}": v for k, v in env.items()}})
        await svc.start(setup)
        return svc, f"http://127.0.0.1:{port}"

    async def eventually(self, fn: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
        """Waits until ``fn()`` answers something true, for at most ``timeout`` seconds times the suite's
        slack (``AM_TEST_SLACK``, default 3): a busy machine slows every step, and a wait on a condition
        costs only what the condition takes when it holds."""
        timeout *= SLACK
        deadline = asyncio.get_running_loop().time() + timeout
        last: Any = None
        while True:
            last = await fn()
            if last:
                return last
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
            await asyncio.sleep(interval)


TERMINAL = frozenset({"delivered", "undelivered", "failed", "canceled"})
"""A message's statuses after which nothing changes."""


class ApiUser:
    """An organization as a test drives it through the public API, with its key and sending number (the
    e2e tests' ``Org`` and outbound's integration ``Pipe`` are both one)."""

    system: System
    key: str
    number: str

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.system.call(method, path, key=self.key, **kw)

    async def send(self, to: str, text: str = "hello from agentmessage", **extra: Any) -> tuple[int, Any]:
        status, body, _ = await self.call("POST", "/v1/messages", json={"from": self.number, "to": to, "text": text,
                                                                         **extra})
        return status, body

    async def message(self, mid: str) -> dict[str, Any]:
        status, body, headers = await self.call("GET", f"/v1/messages/{mid}")
        deadline = asyncio.get_running_loop().time() + 60
        # polling many messages can outrun the key's rate limit (429), and a service being restarted
        # answers 503: back off as told, as the README's retry contract asks
        while status in (429, 503) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(float(headers.get("Retry-After", "1")))
            status, body, headers = await self.call("GET", f"/v1/messages/{mid}")
        assert status == 200, body
        return dict(body["data"])

    async def until_terminal(self, ids: list[str], timeout: float = 20.0) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}

        async def done() -> bool:
            for mid in ids:
                if mid not in out or out[mid]["status"] not in TERMINAL:
                    out[mid] = await self.message(mid)
            return all(m["status"] in TERMINAL for m in out.values())

        await self.system.eventually(done, timeout=timeout, interval=0.1)
        return out

    async def sent_once_each(self, to: str, texts: tuple[str, str]) -> list[str]:
        """The README's two ways to send exactly once, each tried twice: the same body under one
        Idempotency-Key (the second answer is the first, replayed), and one ``message_id`` (the same
        message). The two messages' ids, once both are terminal."""
        h = {"Idempotency-Key": f"send-{uuid.uuid4()}"}
        body = {"from": self.number, "to": to, "text": texts[0]}
        s1, b1, _ = await self.call("POST", "/v1/messages", json=body, headers=h)
        s2, b2, h2 = await self.call("POST", "/v1/messages", json=body, headers=h)
        assert s1 == s2 == 202 and b1 == b2 and h2.get("Idempotent-Replayed") == "true"
        mid = str(uuid.uuid4())
        s3, b3 = await self.send(to, text=texts[1], message_id=mid)
        s4, b4 = await self.send(to, text=texts[1], message_id=mid)
        assert s3 == s4 == 202 and b3["data"]["id"] == b4["data"]["id"] == mid
        ids = [b1["data"]["id"], mid]
        await self.until_terminal(ids)
        return ids


@contextlib.asynccontextmanager
async def running_system(base_env: dict[str, str], extra: dict[str, str] | None = None,
                         only: list[str] | None = None,
                         per_service: dict[str, dict[str, str]] | None = None) -> AsyncIterator[System]:
    """``per_service``: settings for one service only (e.g. its own NATS user), by service name."""
    ports = {n: free_port() for n in [*SERVICES, "carrier_sim", "smsc"]}
    env = dict(base_env)
    env.update({
        "AM_GATEWAY_PORT": str(ports["gateway"]),
        "AM_SIM_PORT": str(ports["carrier_sim"]),
        "AM_SIM_URL": f"http://127.0.0.1:{ports['carrier_sim']}",
        "AM_SIM_MO_CALLBACK_URL": f"http://127.0.0.1:{ports['carrier']}/carrier/mo",
        "AM_SIM_DLR_CALLBACK_URL": f"http://127.0.0.1:{ports['carrier']}/carrier/dlr",
        # messaging goes over SMPP to the simulator's SMSC by default (the production protocol path);
        # a test passes AM_SMPP_URL="" to use the simulator's HTTP carrier API instead
        "AM_SIM_SMPP_PORT": str(ports["smsc"]),
        "AM_SMPP_URL": f"smpp://agentmsg:simpass1@127.0.0.1:{ports['smsc']}?enquire_link_s=5",
        "AM_SIM_CAMPAIGN_CALLBACK_URL": f"http://127.0.0.1:{ports['numbers']}/carrier/campaigns",
        "AM_SIM_RECEIPT_DELAY_MS": "50",
        "AM_SIM_REVIEW_DELAY_MS": "200",
    })
    env.update(extra or {})
    if not env.get("AM_SMPP_URL"):
        env["AM_SIM_SMPP_PORT"] = "0"
    runner: web.AppRunner | None = None
    try:
        sim_mod = importlib.import_module("services.carrier_sim.sim")
        cfg_mod = importlib.import_module("services.carrier_sim.config")
        sim_app = sim_mod.make_app(cfg_mod.load_sim_config(env))
        runner = web.AppRunner(sim_app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", ports["carrier_sim"]).start()
    except ModuleNotFoundError:
        runner = None
    system = System(env=env, gateway=f"http://127.0.0.1:{ports['gateway']}",
                    sim=f"http://127.0.0.1:{ports['carrier_sim']}")
    try:
        for name in only or SERVICES:
            try:
                mod = importlib.import_module(f"services.{name}.app")
            except ModuleNotFoundError:
                continue
            svc_env = dict(env)
            svc_env["AM_HTTP_PORT"] = str(ports[name])
            svc_env.update(service_nats_env(env["AM_NATS_URL"], name))  # its own least-privilege user
            svc_env.update((per_service or {}).get(name, {}))
            svc, setup = mod.build(svc_env)
            await svc.start(setup)  # one by one: all at once, a busy machine's JetStream API times out
            system.services[name] = svc
        system.http = aiohttp.ClientSession()
        yield system
    finally:
        if system.http:
            await system.http.close()
        # tests may restart (replace) a service: stop what is there now, all at once
        await asyncio.gather(*(svc.stop() for svc in system.services.values()))
        if runner is not None:
            await runner.cleanup()
