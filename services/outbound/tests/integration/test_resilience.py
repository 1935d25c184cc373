"""What must survive: a flaky carrier, early receipts, an opt-out while queued, a restart mid-flight,
and receivers of status callbacks that fail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from libs.testing.receiver import receiving
from libs.webhooks.signing import verify
from proto.events import encode_event
from proto.events.compliance import OptOutRecorded
from services.outbound.tests.integration.harness import (
    Pipe,
    balance_is,
    handset,
    has,
    status_is,
)


async def test_flaky_carrier_delivers_everything_exactly_once(make_pipe: Any) -> None:
    pipe: Pipe = await make_pipe({"AM_SMPP_URL": ""})  # the HTTP carrier API, whose faults the simulator injects
    await pipe.onboard()
    await pipe.system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 0.2}})
    to = handset()
    ids = []
    for i in range(20):
        status, body = await pipe.send(to, text=f"flaky {i}")
        assert status == 202
        ids.append(body["data"]["id"])
    final = await pipe.until_terminal(ids, timeout=30)
    await pipe.system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 0.0}})
    assert {m["status"] for m in final.values()} == {"delivered"}
    texts = [m["text"] for m in await pipe.inbox(to)]
    assert sorted(texts) == sorted(f"flaky {i}" for i in range(20))


async def test_receipt_arriving_before_our_sent_write(make_pipe: Any) -> None:
    # given a message the carrier's HTTP API keeps answering 503 for, so it stays "sending" between submissions
    p: Pipe = await make_pipe({"AM_RETRY_BASE_S": "1", "AM_SMPP_URL": ""})
    await p.onboard()
    await p.system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 1.0}})
    _, body = await p.send(handset())
    mid = body["data"]["id"]
    await p.system.eventually(lambda: status_is(p, mid, "sending"))
    # when the carrier's receipt for it arrives (the carrier had accepted one of the attempts), twice
    for _ in range(2):  # duplicates are harmless
        await p.receipt(mid, "sim-early", "DELIVRD")
    await p.system.eventually(lambda: has_effects(p, "sim-early", 2))
    await p.system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 0.0}})
    # then it is held, and applied once the message counts as sent — without another submission
    final = (await p.until_terminal([mid]))[mid]
    assert final["status"] == "delivered" and final["carrier_message_id"] == "sim-early", final
    assert await p.receipt_effects("sim-early") == ["held", "duplicate_held"]
    assert [t["status"] for t in final["timeline"]][-2:] == ["sent", "delivered"]


async def has_effects(p: Pipe, cid: str, n: int) -> bool:
    return len(await p.receipt_effects(cid)) >= n


async def test_a_burst_of_contradicting_receipts_settles_each_message_once(pipe: Pipe) -> None:
    # given messages the carrier took but sends no receipt for, so they stay "sent"
    to = handset()
    await pipe.system.call("PUT", f"/sim/handsets/{to}", json={"outcome": "no_receipt"})
    ids = []
    for i in range(8):
        status, body = await pipe.send(to, text=f"burst {i}")
        assert status == 202
        ids.append(body["data"]["id"])

    async def all_sent() -> bool:
        return [(await pipe.message(m))["status"] for m in ids] == ["sent"] * len(ids)

    await pipe.system.eventually(all_sent)
    cids = {m: (await pipe.message(m))["carrier_message_id"] for m in ids}
    # when receipts arrive all at once (so they are committed together): for each message a delivery,
    # a duplicate of it, a contradicting failure and a non-final one, plus receipts nobody sent for
    posts = [(m, cids[m], s) for s in ("DELIVRD", "DELIVRD", "UNDELIV", "ACCEPTD") for m in ids]
    posts += [(str(uuid.uuid4()), "sim-nobody", "DELIVRD"), (str(uuid.uuid4()), "sim-nobody-2", "DELIVRD")]
    await asyncio.gather(*(pipe.receipt(mid, cid, st, "E1" if st == "UNDELIV" else "") for mid, cid, st in posts))
    for cid in [*cids.values(), "sim-nobody", "sim-nobody-2"]:
        await pipe.system.eventually(lambda c=cid: has_effects(pipe, c, 4 if c in cids.values() else 1))
    # then each message is settled by exactly one receipt, the first final one it got; the rest change nothing
    final = await pipe.until_terminal(ids)
    for m in ids:
        rows = await pipe.system.services["outbound"].pool.fetch(
            "SELECT status, effect FROM receipts WHERE message_id = $1 ORDER BY id", uuid.UUID(m))
        mine = [r["effect"] for r in rows if r["status"] != "ACCEPTD"]
        assert sorted(mine) == ["applied", "ignored_terminal", "ignored_terminal"], (m, mine)
        first = next(r["status"] for r in rows if r["effect"] == "applied")
        assert final[m]["status"] == ("delivered" if first == "DELIVRD" else "undelivered"), (final[m], rows)
        assert [t["status"] for t in final[m]["timeline"]].count(final[m]["status"]) == 1
        assert [r["effect"] for r in rows if r["status"] == "ACCEPTD"] in (["not_final"], ["ignored_terminal"])
    assert await pipe.receipt_effects("sim-nobody") == ["unmatched"]
    assert await pipe.receipt_effects("sim-nobody-2") == ["unmatched"]


async def test_a_shaped_backlog_waits_without_holding_up_other_senders(make_pipe: Any) -> None:
    # given a campaign limited to 120 segments a minute (2 a second, a burst of 2) with 8 texts queued
    p: Pipe = await make_pipe()
    await p.onboard(throughput_mpm=120)
    other = Pipe(p.system, p.fakes, p.nc, p.subjects)
    await other.onboard()
    ids = []
    for i in range(8):
        status, body = await p.send(handset(), text=f"shaped {i}")
        assert status == 202
        ids.append(body["data"]["id"])
    # when another organization's number sends meanwhile
    await asyncio.sleep(0.3)
    status, body = await other.send(handset(), text="not behind them")
    assert status == 202
    theirs = (await other.until_terminal([body["data"]["id"]]))[body["data"]["id"]]
    # then the backlog goes out at its limit, and the other text did not wait behind it
    final = await p.until_terminal(ids, timeout=20)
    assert {m["status"] for m in final.values()} == {"delivered"} and theirs["status"] == "delivered"

    def handed(m: dict[str, Any]) -> float:
        at = next(t["at"] for t in m["timeline"] if t["status"] == "sending")
        return datetime.fromisoformat(at).timestamp()

    times = sorted(handed(m) for m in final.values())
    assert times[-1] - times[0] >= 2.5, times  # 6 after the burst of 2, at 2 a second
    assert handed(theirs) < times[-2], (handed(theirs), times)


async def test_a_message_whose_receipt_never_comes_ends_undelivered_unconfirmed(make_pipe: Any) -> None:
    # given a handset the carrier delivers to without ever sending a receipt, and a 1 s receipt timeout
    p: Pipe = await make_pipe({"AM_RECEIPT_TIMEOUT_S": "1"})
    await p.onboard()
    to = handset()
    await p.system.call("PUT", f"/sim/handsets/{to}", json={"outcome": "no_receipt"})
    before = await p.balance()
    status, body = await p.send(to)
    assert status == 202
    mid = body["data"]["id"]
    # then it is sent, and then closed as undelivered, unconfirmed; the credit stays spent (it was sent)
    final = (await p.until_terminal([mid]))[mid]
    assert (final["status"], final["error_code"]) == ("undelivered", "DELIVERY_UNCONFIRMED"), final
    assert [t["status"] for t in final["timeline"]] == ["queued", "sending", "sent", "undelivered"]
    assert await p.balance() == f"{float(before) - 0.0079:.4f}"
    # and a receipt arriving after that changes nothing
    await p.receipt(mid, final["carrier_message_id"], "DELIVRD")
    await p.system.eventually(lambda: has_effects(p, final["carrier_message_id"], 1))
    assert await p.receipt_effects(final["carrier_message_id"]) == ["ignored_terminal"]
    assert (await p.message(mid))["status"] == "undelivered"


async def test_queue_position_behind_a_long_queue_is_estimated_from_a_recent_count(make_pipe: Any) -> None:
    # given a number allowed one text a second whose token a first text has just taken, and positions
    # estimated behind a queue of 3 or more from a count at most a minute old
    p: Pipe = await make_pipe({"AM_NUMBER_THROUGHPUT_MPM": "60", "AM_QUEUE_ESTIMATE_FROM": "3",
                               "AM_QUEUE_ESTIMATE_S": "60"})
    await p.onboard()
    _, first = await p.send(handset(), text="takes the token")
    await p.system.eventually(lambda: status_is(p, first["data"]["id"], "delivered"))
    # when five texts queue up, the first of them leaves the queue, and a sixth is sent
    answers = [(await p.send(handset(), text=f"in line {i}"))[1]["data"] for i in range(5)]
    await p.system.eventually(lambda: status_is(p, answers[0]["id"], "delivered"), timeout=15)
    answers.append((await p.send(handset(), text="in line 5"))[1]["data"])
    # then each answer counts on from the one before: exact up to 3, then estimated — so the sixth does
    # not yet see that the first left, which a count of the queue does
    assert [a["queue_position"] for a in answers] == [0, 1, 2, 3, 4, 5], answers
    assert (await p.message(answers[-1]["id"]))["queue_position"] < 5


async def test_opt_out_cancels_what_is_still_queued(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({"AM_NUMBER_THROUGHPUT_MPM": "60"})
    await p.onboard()
    to = handset()
    ids = []
    for i in range(8):
        _, body = await p.send(to, text=f"queued {i}")
        ids.append(body["data"]["id"])
    assert (await p.message(ids[-1]))["queue_position"] >= 5
    # when: the contact opts out (compliance records it and emits the event)
    p.fakes.opted_out.add((p.org_id, to))
    ev = OptOutRecorded(org_id=p.org_id, contact_number=to, source="keyword", matched_rule="STOP")
    await p.nc.jetstream().publish(p.subjects.of(type(ev), p.org_id),
                                   encode_event(ev), headers={"Nats-Msg-Id": ev.event_id})
    final = await p.until_terminal(ids)
    canceled = [m for m in final.values() if m["status"] == "canceled"]
    delivered = [m for m in final.values() if m["status"] == "delivered"]
    assert len(canceled) >= 5 and len(canceled) + len(delivered) == 8
    assert all(m["error_code"] == "RECIPIENT_OPTED_OUT" for m in canceled)
    assert sorted(m["text"] for m in await p.inbox(to)) == sorted(m["text"] for m in delivered)
    # canceled messages are refunded
    expected = f"{(5_000_000 - 7900 * len(delivered)) / 1_000_000:.4f}"
    assert await p.system.eventually(lambda: balance_is(p, expected))


async def test_restart_mid_flight_loses_and_duplicates_nothing(make_pipe: Any) -> None:
    pipe: Pipe = await make_pipe({"AM_SMPP_URL": ""})  # the HTTP carrier API, whose faults the simulator injects
    await pipe.onboard()
    await pipe.system.call("PUT", "/sim/config", json={"faults": {"slow_fraction": 0.5, "slow_ms": 3000}})
    to = handset()
    ids = []
    for i in range(30):
        _, body = await pipe.send(to, text=f"restart {i}")
        ids.append(body["data"]["id"])
    await asyncio.sleep(0.5)
    old = pipe.system.services["outbound"]
    await old.stop()
    # some were handed to the carrier without an answer yet: they are left "sending"
    conn = await asyncpg.connect(pipe.system.env["AM_DATABASE_URL"])
    try:
        left = await conn.fetchval(f"SELECT count(*) FROM {pipe.subjects.schema('outbound')}.messages"
                                   " WHERE status = 'sending' AND id = ANY($1::uuid[])", ids)
    finally:
        await conn.close()
    assert left > 0
    from services.outbound.app import build

    env = dict(pipe.system.env)
    env["AM_HTTP_PORT"] = str(old.port)  # the simulator's receipts keep coming to the same place
    fresh, setup = build(env)
    await fresh.start(setup)  # type: ignore[arg-type]
    pipe.system.services["outbound"] = fresh
    try:
        await pipe.system.call("PUT", "/sim/config", json={"faults": {"slow_fraction": 0.0}})
        final = await pipe.until_terminal(ids, timeout=30)
        assert {m["status"] for m in final.values()} == {"delivered"}
        texts = sorted(m["text"] for m in await pipe.inbox(to))
        assert texts == sorted(f"restart {i}" for i in range(30))
    finally:
        await fresh.stop()


async def test_status_callbacks_are_signed_ordered_and_retried(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({"AM_CALLBACK_RETRY_BASE_S": "0.1"})
    await p.onboard(secrets=["whsec_number_secret"])
    got: list[dict[str, Any]] = []
    failures = {"left": 1}

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        assert verify("whsec_number_secret", request.headers["X-AmCore-Signature"], raw)
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        got.append(await request.json())
        return web.Response(status=204)

    async with receiving("/status", receive) as port:
        _, body = await p.send(handset(), status_callback_url=f"http://127.0.0.1:{port}/status")
        mid = body["data"]["id"]
        await p.system.eventually(lambda: has(got, 4), timeout=10)
        assert [c["message"]["status"] for c in got] == ["queued", "sending", "sent", "delivered"]
        assert all(c["type"] == "message.status" and c["message"]["id"] == mid for c in got)
        assert len({c["event_id"] for c in got}) == 4
        status, body, _ = await p.call("GET", f"/v1/messages/{mid}/status-callbacks")
        assert status == 200, body
        rows = body["data"]
        assert [r["status"] for r in rows] == ["queued", "sending", "sent", "delivered"]
        assert [r["event_id"] for r in rows] == [c["event_id"] for c in got]
        assert rows[0]["attempts"] == 2 and rows[0]["state"] == "delivered" and rows[0]["last_status_code"] == 204
        assert (await p.call("GET", f"/v1/messages/{uuid.uuid4()}/status-callbacks"))[0] == 404


async def test_callbacks_from_a_number_without_a_secret_use_the_org_secret(make_pipe: Any) -> None:
    p: Pipe = await make_pipe()
    await p.onboard()
    status, body, _ = await p.call("GET", "/v1/messages/callback-secret")
    assert status == 200 and body["data"]["secret"].startswith("whsec_"), body
    secret = body["data"]["secret"]
    got: list[bool] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(verify(secret, request.headers["X-AmCore-Signature"], await request.read()))
        return web.Response(status=200)

    async with receiving("/s", receive) as port:
        await p.send(handset(), status_callback_url=f"http://127.0.0.1:{port}/s")
        await p.system.eventually(lambda: has(got, 4), timeout=10)
        assert all(got)
