"""What the simulator's HTTP tests share: a callback receiver that checks signatures, a simulator
running on a test server, and the calls most tests make."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from libs.testing import SLACK
from services.carrier_sim.config import SimConfig
from services.carrier_sim.sim import WORLD, make_app
from services.carrier_sim.world import World

TOKEN = "test-token"
SECRET = "test-callback-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SENDER = "+14155550100"
HANDSET = "+12125551234"


class Receiver:
    """A real local HTTP endpoint that records (and can refuse) the simulator's callbacks."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post("/{kind}", self.handle)
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.attempts: dict[str, int] = defaultdict(int)
        self.refuse: dict[str, int] = defaultdict(int)
        self.bad_signatures = 0
        self.server = TestServer(self.app)
        self._changed = asyncio.Event()

    def url(self, kind: str) -> str:
        return str(self.server.make_url(f"/{kind}"))

    async def handle(self, request: web.Request) -> web.Response:
        kind, body = request.match_info["kind"], await request.read()
        self.attempts[kind] += 1
        self._changed.set()
        if not verify(request.headers.get("X-Sim-Signature", ""), body):
            self.bad_signatures += 1
        if self.refuse[kind] > 0:
            self.refuse[kind] -= 1
            return web.Response(status=500)
        self.received[kind].append(await request.json())
        return web.Response(status=204)

    async def wait_for(self, kind: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout * SLACK):
            while len(self.received[kind]) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received[kind]


def verify(header: str, body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts:
        return False
    mac = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def config(receiver: Receiver, **overrides: Any) -> SimConfig:
    fields: dict[str, Any] = {
        "port": 0,
        "api_token": TOKEN,
        "callback_secret": SECRET,
        "mo_callback_url": receiver.url("mo"),
        "dlr_callback_url": receiver.url("dlr"),
        "campaign_callback_url": receiver.url("campaign"),
        "receipt_delay_ms": 10,
        "review_delay_ms": 10,
    }
    return SimConfig(**{**fields, **overrides})


@asynccontextmanager
async def running(cfg: SimConfig) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = TestClient(TestServer(make_app(cfg)), headers=AUTH)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()





Client = TestClient[web.Request, web.Application]


async def assign(sim: Client, *numbers: str, account: str = "acct-1") -> aiohttp.ClientResponse:
    return await sim.post(
        "/carrier/v1/numbers/assign", json={"numbers": list(numbers), "account_ref": account}
    )


async def send(sim: Client, to: str = HANDSET, reference: str | None = "ref-1") -> aiohttp.ClientResponse:
    body = {"from": SENDER, "to": to, "text": "hello", "reference": reference}
    return await sim.post("/carrier/v1/messages", json=body)




def world_of(client: Client) -> World:
    app = client.app
    assert app is not None
    return app[WORLD]


def files_in(path: Path) -> list[Path]:
    return list(path.iterdir())



GOOD_CAMPAIGN: dict[str, Any] = {
    "brand_ref": "simb-1",
    "entity_type": "PRIVATE_PROFIT",
    "brand_campaign_count": 1,
    "number_count": 1,
    "use_case": "2FA",
    "sub_use_cases": [],
    "description": "One-time passcodes for Acme account sign-in and password resets.",
    "message_flow": "Users enter their number on the acme.example login form and agree to receive codes.",
    "sample_messages": ["Your Acme code is 482913. Reply STOP to opt out."],
    "opt_in_keywords": [],
    "opt_in_message": "",
    "opt_out_keywords": ["STOP"],
    "opt_out_message": "You are unsubscribed.",
    "help_keywords": ["HELP"],
    "help_message": "Acme help: support@acme.example",
    "embedded_link": False,
    "embedded_phone": False,
    "age_gated": False,
    "number_pool": False,
}
