"""The ASGI-in-aiohttp bridge of /mcp: a client that goes away is told to the app as a disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from libs.embedded.ports import free_port
from libs.testing import SLACK
from services.gateway import mcp


async def test_a_client_that_leaves_an_open_stream_is_a_disconnect(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(mcp, "DISCONNECT_POLL_S", 0.05, raising=False)
    heard: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:  # an SSE stream that never ends
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        heard.set_result(await receive())
        await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})  # dropped, no error
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def handle(request: web.Request) -> web.StreamResponse:
        return await mcp.asgi_bridge(request, b"", stream)

    app = web.Application()
    app.router.add_get("/mcp", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"http://127.0.0.1:{port}/mcp")
            assert r.status == 200 and await r.content.readline() == b": open\n"
            r.close()  # the client goes away with the stream still open
        assert (await asyncio.wait_for(heard, timeout=5 * SLACK)) == {"type": "http.disconnect"}
    finally:
        await runner.cleanup()
