"""The stack the chaos tests kill parts of: ``make run`` (the devstack supervisor) in a scratch directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from tests.e2e.test_devstack import Devstack, scratch
from tests.system import System


@asynccontextmanager
async def busy_devstack(**env: str) -> AsyncIterator[tuple[Devstack, System]]:
    """A devstack whose campaigns are reviewed fast and whose sends go at 10/s, so a kill lands while most
    messages are still queued; with a client of its API and simulator. ``env``: more AM_* settings."""
    with scratch("am-chaos-") as (d, ports):
        stack = Devstack(d, ports)
        stack.env.update({"AM_SIM_REVIEW_DELAY_MS": "200", "AM_SIM_RECEIPT_DELAY_MS": "50",
                          "AM_NUMBER_THROUGHPUT_MPM": "600", **env})
        with stack:
            system = System(env={}, gateway=stack.api, sim=f"http://127.0.0.1:{ports['sim']}")
            system.http = aiohttp.ClientSession()
            try:
                yield stack, system
            finally:
                await system.http.close()
