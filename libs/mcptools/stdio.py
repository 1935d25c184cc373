"""The MCP server over stdio (``amctl mcp``): the API key from ``AGENTMESSAGE_API_KEY``, the API at
``AM_API_URL``. stdout carries only MCP messages; logs go to stderr."""

from __future__ import annotations

import os
from typing import Any

import anyio
from agentmessage import AsyncClient

from libs.mcptools.server import build_server


def run_stdio(url: str | None = None) -> None:
    """``url``: the API (amctl passes the one its --api / AM_GATEWAY_PORT name); else ``AM_API_URL``."""
    key = os.environ.get("AGENTMESSAGE_API_KEY", "")
    if not key:
        raise SystemExit("set AGENTMESSAGE_API_KEY")
    url = url or os.environ.get("AM_API_URL", "http://127.0.0.1:8080")

    def client_for(_: Any) -> AsyncClient:
        return AsyncClient(key, url)

    anyio.run(build_server(client_for).run_stdio_async)
