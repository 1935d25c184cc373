"""Invariant 4 with a real SIGKILL: the outbound process is killed under `make run`'s supervisor while
messages are in flight; the supervisor restarts it and every message ends delivered, exactly once."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.chaos.stack import busy_devstack
from tests.chaos.test_kill_infrastructure import _in_flight
from tests.e2e.test_devstack import _children


async def test_outbound_sigkilled_mid_flight_every_message_once() -> None:
    async with busy_devstack() as (stack, system):
        org, ids = await _in_flight(system, 120)
        pending = [mid for mid in list(ids)[-20:]
                   if (await org.message(mid))["status"] != "delivered"]  # type: ignore[attr-defined]
        assert pending, "the kill must land while messages are in flight"
        os.kill(_children(stack.proc.pid)["outbound"], signal.SIGKILL)
        first = next(iter(ids))

        async def serving() -> bool:  # until the supervisor has it back: 503 (retry), never 500
            status, body, _ = await org.call("GET", f"/v1/messages/{first}")  # type: ignore[attr-defined]
            assert status in (200, 503), body
            return status == 200

        await asyncio.sleep(1)
        await system.eventually(serving, timeout=30)
        await system.call("PUT", "/sim/config", json={"faults": {"slow_fraction": 0.0}})
        final = await org.until_terminal(list(ids), timeout=90)  # type: ignore[attr-defined]
        assert {m["status"] for m in final.values()} == {"delivered"}
        for c in set(ids.values()):
            expected = sorted(m["text"] for mid, m in final.items() if ids[mid] == c)
            assert sorted(await org.inbox(c)) == expected  # type: ignore[attr-defined]  # each exactly once
