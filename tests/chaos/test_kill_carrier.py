"""Never twice with a real SIGKILL: the carrier service (holding the SMPP bind) is killed under `make
run`'s supervisor while messages are in flight; the supervisor restarts it, it binds again, and every
message ends once — delivered, or failed SUBMISSION_UNCONFIRMED when it had left and was not acknowledged
— and no handset receives any text twice."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter

from libs.embedded.ports import free_port
from tests.chaos.stack import busy_devstack
from tests.chaos.test_kill_infrastructure import _in_flight
from tests.e2e.test_devstack import _children


async def test_carrier_sigkilled_mid_flight_nothing_twice() -> None:
    async with busy_devstack(AM_SIM_SMPP_PORT=str(free_port())) as (stack, system):
        org, ids = await _in_flight(system, 60)
        os.kill(_children(stack.proc.pid)["carrier"], signal.SIGKILL)
        await asyncio.sleep(0.5)
        final = await org.until_terminal(list(ids), timeout=120)  # type: ignore[attr-defined]
        outcomes = Counter((m["status"], m["error_code"]) for m in final.values())
        assert set(outcomes) <= {("delivered", None), ("failed", "SUBMISSION_UNCONFIRMED")}, outcomes
        assert outcomes[("delivered", None)] >= len(ids) // 2, outcomes
        for c in set(ids.values()):
            got = Counter(await org.inbox(c))  # type: ignore[attr-defined]
            assert all(n == 1 for n in got.values()), got  # nothing twice
            delivered = {m["text"] for mid, m in final.items() if ids[mid] == c and m["status"] == "delivered"}
            assert delivered <= set(got), (delivered, got)
