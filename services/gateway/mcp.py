"""``/mcp``: the MCP server (libs/mcptools) over Streamable HTTP on the gateway's origin.

The MCP SDK's HTTP transport is an ASGI application; the gateway is aiohttp. This module is the small
bridge between them: an aiohttp handler authenticates the bearer key (as every /v1 route does), builds the
ASGI scope from the request, feeds it the body once, and streams what the transport sends back (JSON, or
SSE for a long ``wait_for_*``) through an aiohttp StreamResponse.

The transport runs stateless: no ``Mcp-Session-Id`` is kept, so any gateway replica answers any request.
The tools call the public API over loopback with the caller's key, so scopes and caps apply to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog
from agentmessage import AsyncClient
from aiohttp import web
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from libs.mcptools.server import build_server
from proto.base import CommandError
from services.gateway.api import FAULTS, error_response

log = structlog.get_logger(__name__)

MAX_BODY = 1 << 20
DISCONNECT_POLL_S = 1.0
"""aiohttp tells a running handler nothing when its client goes: the bridge looks this often."""


class McpEndpoint:
    def __init__(self, authenticate: Callable[[web.Request], Any], api_url: Callable[[], str]):
        self._authenticate = authenticate
        self._api_url = api_url
        self.manager: StreamableHTTPSessionManager | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def _client_for(self, ctx: Context[Any, Any]) -> AsyncClient:
        headers = ctx.headers or {}
        auth = headers.get("authorization") or headers.get("Authorization") or ""
        return AsyncClient(auth[7:].strip() if auth.startswith("Bearer ") else "", self._api_url(), max_retries=2)

    async def start(self) -> None:
        """Made here, not at import: after the service configured logging (the SDK's own setup is then a no-op)."""
        server = build_server(self._client_for)
        # Bearer keys, not cookies, authenticate /mcp: DNS rebinding gains an attacker nothing here.
        server.streamable_http_app(stateless_http=True, transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=False))
        manager = self.manager = server.session_manager
        started = asyncio.Event()

        async def run() -> None:
            async with manager.run():
                started.set()
                await self._stop.wait()

        self._task = asyncio.create_task(run())
        await started.wait()

    async def stop(self) -> None:
        """Bounded: the SDK's task group finishes its requests' shielded clean-ups, which must not hold
        the service's stop (asyncio.wait_for would wait for a cancelled task to finish)."""
        self._stop.set()
        task = self._task
        if task is None:
            return
        await asyncio.wait({task}, timeout=3)
        if not task.done():
            log.warning("mcp_stop_slow")
            task.cancel()
            await asyncio.wait({task}, timeout=2)
        if task.done() and not task.cancelled():
            with contextlib.suppress(Exception):
                task.result()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        resp = await self._handle(request)
        log.info("mcp_request", method=request.method, status=resp.status,
                 ms=round((time.perf_counter() - started) * 1000, 2))
        return resp

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.manager is None:
            return error_response("SERVICE_UNAVAILABLE", "the MCP server is starting; retry", 503)
        try:
            await self._authenticate(request)
        except CommandError as exc:
            headers = {"WWW-Authenticate": 'Bearer realm="agentmessage"'} if exc.status == 401 else {}
            if "retry_after" in exc.details:
                headers["Retry-After"] = str(exc.details["retry_after"])
            return error_response(exc.code, exc.message, exc.status, exc.details, headers=headers)
        except FAULTS as exc:  # the bus is down or reconnecting: a retry will do, never a 500
            log.warning("mcp_authenticate_unavailable", error=repr(exc))
            return error_response("SERVICE_UNAVAILABLE", "accounts cannot be reached; retry", 503,
                                  {"service": "accounts"}, headers={"Retry-After": "1"})
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return error_response("PAYLOAD_TOO_LARGE", f"request body over {MAX_BODY} bytes", 413)
        return await asgi_bridge(request, body, self.manager.handle_request)


async def asgi_bridge(request: web.Request, body: bytes, app: Callable[..., Any]) -> web.StreamResponse:
    """Serve one aiohttp request with an ASGI application (HTTP only, body already read)."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": request.method, "scheme": request.scheme, "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode(), "root_path": "",
        "query_string": request.query_string.encode(),
        "headers": [(k.lower(), v) for k, v in request.raw_headers],
        "client": (request.remote or "", 0), "server": (sock[0], sock[1]) if sock else None, "state": {},
    }
    delivered = False

    def gone() -> bool:
        return request.transport is None or request.transport.is_closing()

    async def receive() -> dict[str, Any]:
        """The body, then (once the client has gone) a disconnect: an SSE stream (GET /mcp) ends then,
        instead of when a keep-alive ping fails to write (a traceback in the log, the stream held meanwhile).
        The app cancels this wait once its response is done."""
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        while not gone():
            await asyncio.sleep(DISCONNECT_POLL_S)
        return {"type": "http.disconnect"}

    resp: web.StreamResponse | None = None

    async def send(message: dict[str, Any]) -> None:
        nonlocal resp
        if message["type"] == "http.response.start":
            resp = web.StreamResponse(status=message["status"])
            for k, v in message.get("headers", []):
                name = k.decode("latin-1")
                if name.lower() != "transfer-encoding":
                    resp.headers.add(name, v.decode("latin-1"))
            await resp.prepare(request)  # headers now: an SSE stream may send its first event much later
        elif message["type"] == "http.response.body":
            assert resp is not None
            if gone():  # the client left: nothing to write to (receive says so to the app)
                return
            chunk = message.get("body", b"")
            if chunk:
                await resp.write(chunk)
            if not message.get("more_body", False):
                await resp.write_eof()

    await app(scope, receive, send)
    if resp is None:
        return error_response("SERVICE_UNAVAILABLE", "the MCP transport gave no answer; retry", 503)
    if not resp.prepared:
        await resp.prepare(request)
        await resp.write_eof()
    return resp
