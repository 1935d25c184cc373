"""Carrier simulator over real HTTP: faults, its controls, and its state across restarts and shutdowns."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from libs.testing import SLACK
from services.carrier_sim.config import SimConfig
from services.carrier_sim.sim import make_app
from services.carrier_sim.tests.simkit import (
    GOOD_CAMPAIGN,
    HANDSET,
    SENDER,
    Client,
    Receiver,
    assign,
    config,
    files_in,
    running,
    send,
    world_of,
)


async def test_faults_apply_to_the_carrier_api_only(sim: Client) -> None:
    url = "/carrier/v1/available-numbers?area_code=415&quantity=1"
    effective = await (await sim.put("/sim/config", json={"faults": {"error_fraction": 1.0}})).json()
    assert effective["faults"]["error_fraction"] == 1.0 and effective["receipt_delay_ms"] == 10
    assert (await sim.get(url)).status == 503
    assert (await sim.get("/carrier/v1/healthz")).status == 200
    assert (await sim.get(f"/sim/numbers/{SENDER}")).status == 200
    await sim.put("/sim/config", json={"faults": {"slow_fraction": 1.0, "slow_ms": 200}})
    started = time.monotonic()
    assert (await sim.get(url)).status == 200 and time.monotonic() - started >= 0.2
    world_of(sim).timeout_hold_s = 0.05  # the 30 s hold, shortened for the test
    await sim.put("/sim/config", json={"faults": {"timeout_fraction": 1.0}})
    assert (await sim.get(url)).status == 504
    assert (await sim.post("/sim/reset")).status == 200
    assert (await sim.get(url)).status == 200
    assert (await (await sim.get("/sim/config")).json())["faults"]["timeout_fraction"] == 0.0


@pytest.mark.parametrize(
    "body",
    [
        {"faults": {"error_fraction": 0.7, "timeout_fraction": 0.7}},
        {"faults": {"error_fraction": 2}},
        {"receipt_delay_ms": -1},
        {"review_delay_ms": "soon"},
    ],
)
async def test_bad_sim_config_is_refused(sim: Client, body: dict[str, Any]) -> None:
    resp = await sim.put("/sim/config", json=body)
    assert resp.status == 400
    assert (await (await sim.get("/sim/config")).json())["receipt_delay_ms"] == 10


async def test_delays_can_be_changed_at_runtime(sim: Client, receiver: Receiver) -> None:
    await assign(sim, SENDER)
    await sim.put("/sim/config", json={"receipt_delay_ms": 400})
    started = time.monotonic()
    await send(sim)
    await receiver.wait_for("dlr", 1)
    assert time.monotonic() - started >= 0.4



# -- lifecycle -------------------------------------------------------------------------------------
async def test_state_survives_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    state = tmp_path / "sim-state.json"
    slow = config(receiver, state_file=str(state), receipt_delay_ms=60_000, review_delay_ms=60_000)
    async with running(slow) as first:
        await assign(first, SENDER)
        accepted = await (await send(first)).json()
        pending = (await (await first.post("/carrier/v1/campaigns", json=GOOD_CAMPAIGN)).json())[
            "campaign_ref"
        ]
    assert sorted(p.name for p in files_in(tmp_path)) == ["sim-state.json"]
    async with running(config(receiver, state_file=str(state))) as second:
        status = await (await second.get(f"/sim/numbers/{SENDER}")).json()
        assert (status["assigned"], status["account_ref"]) == (True, "acct-1")
        assert await (await send(second)).json() == accepted
        [decision] = await receiver.wait_for("campaign", 1)
        assert (decision["campaign_ref"], decision["status"]) == (pending, "approved")
        [dlr] = await receiver.wait_for("dlr", 1)  # accepted before the restart, delivered after it
        assert dlr["carrier_message_id"] == accepted["carrier_message_id"]
        await asyncio.sleep(0.2)
        assert len(receiver.received["dlr"]) == 1  # the replayed reference was not delivered again


def test_corrupt_state_file_fails_loudly(tmp_path: Path) -> None:
    state = tmp_path / "sim-state.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="AM_SIM_STATE_FILE"):
        make_app(SimConfig(state_file=str(state)))


async def test_shutdown_cancels_callbacks_still_being_retried(receiver: Receiver) -> None:
    receiver.refuse["mo"] = 10**6
    async with asyncio.timeout(3 * SLACK):
        async with running(config(receiver)) as sim:
            await sim.post("/sim/messages", json={"from": HANDSET, "to": SENDER, "text": "hi"})
            while receiver.attempts["mo"] < 2:
                await asyncio.sleep(0.05)
            assert len(world_of(sim).tasks) == 1
    assert not receiver.received["mo"]


async def test_unacknowledged_callbacks_resume_after_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    cfg = config(receiver, state_file=str(tmp_path / "sim-state.json"))
    receiver.refuse["mo"] = 10**6
    async with running(cfg) as first:
        accepted = await (
            await first.post("/sim/messages", json={"from": HANDSET, "to": SENDER, "text": "hi"})
        ).json()
        while receiver.attempts["mo"] < 1:
            await asyncio.sleep(0.02)
    receiver.refuse["mo"] = 0
    async with running(cfg):
        [mo] = await receiver.wait_for("mo", 1)
        assert mo["carrier_message_id"] == accepted["carrier_message_id"]
