"""A service's own HTTP endpoints (carrier callbacks) answer a database or bus fault 503, never 500."""

from __future__ import annotations

import asyncpg
import nats.errors
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from libs.runtime.service import _http_metrics


@pytest.mark.parametrize("fault", [asyncpg.PostgresConnectionError("gone"), nats.errors.ConnectionClosedError(),
                                   ConnectionResetError("reset")])
async def test_a_fault_in_a_service_route_is_a_503_with_retry_after(fault: BaseException) -> None:
    async def callback(_: web.Request) -> web.Response:
        raise fault

    async def fine(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[_http_metrics])
    app.router.add_post("/carrier/dlr", callback)
    app.router.add_post("/carrier/mo", fine)
    async with TestClient(TestServer(app)) as client:
        r = await client.post("/carrier/dlr", data=b"{}")
        assert r.status == 503 and r.headers["Retry-After"]
        assert (await client.post("/carrier/mo", data=b"{}")).status == 200
