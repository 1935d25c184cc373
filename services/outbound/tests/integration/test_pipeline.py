"""The lifecycle: accept (gate, credit, validation), read back, schedule, expire, the final check."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from msgspec.structs import replace

from proto.base import utcnow
from services.outbound import model, store
from services.outbound.tests.integration.harness import (
    Pipe,
    balance_is,
    handset,
    status_is,
)


async def test_send_is_accepted_queued_and_delivered_once(pipe: Pipe) -> None:
    to = handset()
    status, body = await pipe.send(to)
    assert status == 202, body
    m = body["data"]
    assert m["status"] == "queued" and m["from"] == pipe.number and m["to"] == to
    assert m["text"] == "hello from agentmessage" and m["created_at"].endswith("Z")
    assert (m["segments"], m["encoding"], m["price"]) == (1, "GSM-7", "0.0079")
    assert m["queue_position"] == 0 and m["expected_send_at"]
    final = (await pipe.until_terminal([m["id"]]))[m["id"]]
    assert final["status"] == "delivered", final
    assert [t["status"] for t in final["timeline"]] == ["queued", "sending", "sent", "delivered"]
    assert len(await pipe.inbox(to)) == 1
    assert await pipe.system.eventually(lambda: balance_is(pipe, "4.9921"))
    assert [c.stage for c in pipe.fakes.checks] == ["accept", "submit"]


async def test_unicode_is_priced_per_ucs2_segment(pipe: Pipe) -> None:
    status, body = await pipe.send(handset(), text="😀" * 36)
    assert status == 202
    assert (body["data"]["segments"], body["data"]["encoding"], body["data"]["price"]) == (2, "UCS-2", "0.0158")


async def test_undelivered_and_carrier_rejection(pipe: Pipe) -> None:
    undeliverable, rejecting = handset(), handset()
    await pipe.system.call("PUT", f"/sim/handsets/{undeliverable}", json={"outcome": "undelivered"})
    await pipe.system.call("PUT", f"/sim/handsets/{rejecting}", json={"outcome": "rejected"})
    _, a = await pipe.send(undeliverable)
    _, b = await pipe.send(rejecting)
    final = await pipe.until_terminal([a["data"]["id"], b["data"]["id"]])
    ua, rb = final[a["data"]["id"]], final[b["data"]["id"]]
    assert ua["status"] == "undelivered" and ua["error_code"] == "001"  # the SMSC receipt's err: code
    assert rb["status"] == "failed" and rb["error_code"] == "CARRIER_REJECTED"
    # the undelivered one reached the carrier (charged); the rejected one is refunded
    assert await pipe.system.eventually(lambda: balance_is(pipe, "4.9921"))


async def test_gate_refusal_creates_nothing_and_costs_nothing(pipe: Pipe) -> None:
    to = handset()
    pipe.fakes.no_consent.add(to)
    status, body = await pipe.send(to)
    assert status == 453 and body["error"]["code"] == "CONSENT_REQUIRED", body
    _, listing, _ = await pipe.call("GET", "/v1/messages")
    assert listing["data"] == []
    assert await pipe.balance() == "5.0000"


async def test_unknown_from_number(pipe: Pipe) -> None:
    status, body, _ = await pipe.call("POST", "/v1/messages", json={"from": "+14155550000", "to": handset(),
                                                                     "text": "x"})
    assert status == 400 and body["error"]["code"] == "FROM_NUMBER_NOT_FOUND"
    assert body["error"]["details"]["field"] == "from"


async def test_validation(pipe: Pipe) -> None:
    for payload, fld in (({"text": ""}, "text"), ({"text": " \n "}, "text"), ({"text": "x" * 1601}, "text"),
                         ({"to": "12"}, "to"), ({"to": pipe.number}, "to"),
                         ({"send_at": "soon"}, "send_at"), ({"validity_seconds": 0}, "validity_seconds"),
                         ({"status_callback_url": "http://example.com/x"}, "status_callback_url")):
        body = {"from": pipe.number, "to": handset(), "text": "hi", **payload}
        status, resp, _ = await pipe.call("POST", "/v1/messages", json=body)
        assert status == 400 and resp["error"]["details"]["field"] == fld, (payload, resp)
    status, resp, _ = await pipe.call("GET", f"/v1/messages/{uuid.uuid4()}")
    assert status == 404
    status, resp, _ = await pipe.call("GET", "/v1/messages/not-a-uuid")
    assert status == 404


async def test_insufficient_credit_is_402(make_pipe: Any) -> None:
    p: Pipe = await make_pipe({"AM_PRICE_PER_SEGMENT_MICROS": "6000000"})
    await p.onboard()
    status, body = await p.send(handset())
    assert status == 402 and body["error"]["code"] == "INSUFFICIENT_CREDIT"
    _, listing, _ = await p.call("GET", "/v1/messages")
    assert listing["data"] == []


async def test_idempotent_replays(pipe: Pipe) -> None:
    to = handset()
    await pipe.sent_once_each(to, ("once", "twice"))
    assert sorted(m["text"] for m in await pipe.inbox(to)) == ["once", "twice"]
    assert await pipe.system.eventually(lambda: balance_is(pipe, "4.9842"))


async def test_list_filters_and_pagination(pipe: Pipe) -> None:
    a, b = handset(), handset()
    for i in range(3):
        await pipe.send(a, text=f"a{i}")
    await pipe.send(b, text="b0")
    status, body, _ = await pipe.call("GET", f"/v1/messages?to={a}&limit=2")
    assert status == 200 and [m["text"] for m in body["data"]] == ["a2", "a1"]
    cursor = body["meta"]["next_cursor"]
    status, body, _ = await pipe.call("GET", f"/v1/messages?to={a}&limit=2&cursor={cursor}")
    assert [m["text"] for m in body["data"]] == ["a0"] and body["meta"]["next_cursor"] is None
    status, body, _ = await pipe.call("GET", "/v1/messages", params={"from": pipe.number, "status": "queued,sending,"
                                                                     "sent,delivered"})
    assert status == 200 and len(body["data"]) == 4
    status, body, _ = await pipe.call("GET", "/v1/messages?status=bogus")
    assert status == 400 and body["error"]["details"]["field"] == "status"
    status, body, _ = await pipe.call("GET", "/v1/messages", params={"created_after": "2999-01-01T00:00:00Z"})
    assert status == 200 and body["data"] == []
    other = await pipe.system.signup()
    status, body, _ = await pipe.system.call("GET", "/v1/messages", key=other["api_key"]["secret"])
    assert body["data"] == []


async def test_send_at_schedules_then_sends(pipe: Pipe) -> None:
    # (far enough ahead that a busy machine's slow request still arrives before it, and the look at the
    # message half a second later still finds it waiting)
    at = datetime.now(UTC) + timedelta(seconds=8)
    status, body = await pipe.send(handset(), send_at=at.isoformat().replace("+00:00", "Z"))
    assert status == 202 and body["data"]["status"] == "scheduled", body
    assert body["data"]["expected_send_at"] and body["data"]["send_at"]
    mid = body["data"]["id"]
    await asyncio.sleep(0.5)
    assert (await pipe.message(mid))["status"] == "scheduled"
    final = (await pipe.until_terminal([mid]))[mid]
    assert [t["status"] for t in final["timeline"]] == ["scheduled", "queued", "sending", "sent", "delivered"]
    assert final["timeline"][0]["reason"] == "send_at"


async def test_a_message_the_carrier_never_takes_expires_and_is_refunded(make_pipe: Any) -> None:
    pipe: Pipe = await make_pipe({"AM_SMPP_URL": ""})  # the HTTP carrier API, whose faults the simulator injects
    await pipe.onboard()
    await pipe.system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 1.0}})
    try:
        _, body = await pipe.send(handset(), validity_seconds=1)
        mid = body["data"]["id"]
        final = (await pipe.until_terminal([mid], timeout=10))[mid]
    finally:
        await pipe.system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 0.0}})
    assert final["status"] == "failed" and final["error_code"] == "EXPIRED", final
    assert await pipe.system.eventually(lambda: balance_is(pipe, "5.0000"))


async def test_the_final_check_is_obeyed(pipe: Pipe) -> None:
    # accepted while allowed; at submission the gate says the contact opted out / quiet hours began
    out, later = handset(), handset()
    pipe.fakes.submit_denied.add(out)
    until = datetime.now(UTC) + timedelta(seconds=1)
    pipe.fakes.submit_deferred[later] = until
    _, a = await pipe.send(out)
    _, b = await pipe.send(later)
    final = (await pipe.until_terminal([a["data"]["id"]]))[a["data"]["id"]]
    assert final["status"] == "canceled" and final["error_code"] == "RECIPIENT_OPTED_OUT"
    assert [t["status"] for t in final["timeline"]] == ["queued", "canceled"]
    assert await pipe.inbox(out) == []
    await pipe.system.eventually(lambda: status_is(pipe, b["data"]["id"], "scheduled"))
    del pipe.fakes.submit_deferred[later]
    final = (await pipe.until_terminal([b["data"]["id"]]))[b["data"]["id"]]
    assert [t["status"] for t in final["timeline"]] == ["queued", "scheduled", "queued", "sending", "sent",
                                                         "delivered"]
    assert await pipe.system.eventually(lambda: balance_is(pipe, "4.9921"))


async def test_quiet_hours_at_acceptance_schedule_the_message(pipe: Pipe) -> None:
    to = handset()
    until = datetime.now(UTC) + timedelta(seconds=1)
    pipe.fakes.accept_deferred[to] = until
    status, body = await pipe.send(to)
    assert status == 202 and body["data"]["status"] == "scheduled", body
    m = body["data"]
    assert m["status_reason"].startswith("quiet hours") and m["expected_send_at"][:19] == until.isoformat()[:19]
    final = (await pipe.until_terminal([m["id"]]))[m["id"]]
    assert [t["status"] for t in final["timeline"]] == ["scheduled", "queued", "sending", "sent", "delivered"]


async def test_the_messages_table_is_the_fold_of_each_message_s_events(pipe: Pipe) -> None:
    # given: messages that went all the way, were canceled, and were scheduled
    await pipe.onboard()
    _, sent = await pipe.send(handset(), text="to the end")
    later = (utcnow() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    _, canceled = await pipe.send(handset(), text="canceled", send_at=later)
    _, scheduled = await pipe.send(handset(), text="scheduled", send_at=later)
    status, _, _ = await pipe.call("POST", f"/v1/messages/{canceled['data']['id']}/cancel")
    assert status == 200
    await pipe.until_terminal([sent["data"]["id"]])
    # then: each row is what its events fold to (nothing in it that the events do not say)
    svc = pipe.system.services["outbound"]
    async with svc.pool.acquire() as conn:
        for mid in (sent["data"]["id"], canceled["data"]["id"], scheduled["data"]["id"]):
            events, _ = await svc.store.load(conn, store.stream_id(mid))
            [row] = await conn.fetch(f"SELECT {store.COLUMNS} FROM messages WHERE id = $1::uuid", mid)
            folded = model.fold(model.Message(id=mid, org_id=pipe.org_id), events)
            assert replace(store.state(row), claimed_until=None, claim_id=None) == folded, mid


async def test_a_send_whose_queue_cannot_be_counted_is_still_answered_accepted(pipe: Pipe, monkeypatch: Any) -> None:
    """The queue count is an estimate for the answer, read beside the write: when it fails (the database
    drops that connection), the written, charged message is answered 202 without its place in the queue,
    never with a 503 its caller would retry into a second message."""

    async def unavailable(*_: Any) -> store.Ahead:
        raise OSError("connection reset by peer")

    monkeypatch.setattr(store, "queue_position", unavailable)
    status, body = await pipe.send(handset())
    assert status == 202, body
    m = body["data"]
    assert m["status"] == "queued" and m["queue_position"] is None
    final = (await pipe.until_terminal([m["id"]]))[m["id"]]
    assert final["status"] == "delivered", final
