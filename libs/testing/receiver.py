"""A loopback HTTP endpoint for tests of what we POST out (inbound webhooks, status and campaign
callbacks): ``async with receiving("/hook", handler) as port`` listens on a free port until the block ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from libs.embedded.ports import free_port


@asynccontextmanager
async def receiving(path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> AsyncIterator[int]:
    """POSTs to ``path`` on 127.0.0.1 go to ``handler``; yields the port."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()
