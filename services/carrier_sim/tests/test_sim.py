"""Carrier simulator over real HTTP: the carrier API (numbers, messages, 10DLC) and its signed callbacks."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import pytest

from services.carrier_sim.config import SimConfig, load_sim_config
from services.carrier_sim.tests.simkit import (
    GOOD_CAMPAIGN,
    HANDSET,
    RFC3339_MS,
    SENDER,
    Client,
    Receiver,
    assign,
    send,
)


# -- configuration ---------------------------------------------------------------------------------
def test_config_defaults_and_overrides() -> None:
    assert load_sim_config({}) == SimConfig()
    cfg = load_sim_config({"AM_SIM_PORT": "18090", "AM_SIM_RECEIPT_DELAY_MS": "0", "AM_SIM_SEED": "7"})
    assert (cfg.port, cfg.receipt_delay_ms, cfg.seed, cfg.number_price) == (18090, 0, 7, "1.15")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AM_SIM_PORT", "http"),
        ("AM_SIM_PORT", "70000"),
        ("AM_SIM_REVIEW_DELAY_MS", "-1"),
        ("AM_SIM_DLR_CALLBACK_URL", "ftp://x"),
        ("AM_SIM_NUMBER_MONTHLY_PRICE", "$1"),
        ("AM_SIM_API_TOKEN", ""),
        ("AM_LOG_LEVEL", "loud"),
    ],
)
def test_bad_config_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        load_sim_config({name: value})


# -- carrier API -----------------------------------------------------------------------------------
async def test_healthz_is_open_but_the_api_needs_the_token(sim: Client) -> None:
    assert (await sim.get("/carrier/v1/healthz", headers={"Authorization": ""})).status == 200
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        resp = await sim.get("/carrier/v1/available-numbers?area_code=415", headers=headers)
        assert (resp.status, await resp.json()) == (401, {"error": "unauthorized"})


async def test_available_numbers_have_geography_price_and_filters(sim: Client) -> None:
    resp = await sim.get("/carrier/v1/available-numbers", params={"area_code": "415", "quantity": "5"})
    numbers = (await resp.json())["numbers"]
    assert resp.status == 200 and len(numbers) == 5
    assert numbers[0] == {
        "e164": "+14155550100",
        "region": "CA",
        "locality": "San Francisco",
        "capabilities": ["sms", "mms"],
        "monthly_price": "1.15",
    }
    resp = await sim.get("/carrier/v1/available-numbers?area_code=415&quantity=100&contains=0199")
    found = [n["e164"] for n in (await resp.json())["numbers"]]
    assert found and all("0199" in e164 for e164 in found) and "+14155550199" in found
    fictional = await (await sim.get("/carrier/v1/available-numbers?area_code=555&quantity=2")).json()
    assert [n["e164"] for n in fictional["numbers"]] == ["+15555550100", "+15555550101"]
    resp = await sim.get("/carrier/v1/available-numbers?area_code=555&quantity=100&contains=5552090")
    assert (await resp.json())["numbers"][0]["e164"] == "+15552090100"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("area_code=800", "invalid_area_code"),
        ("area_code=999", "invalid_area_code"),
        ("area_code=41", "invalid_area_code"),
        ("quantity=2", "invalid_area_code"),
        ("area_code=415&quantity=0", "invalid_quantity"),
        ("area_code=415&quantity=101", "invalid_quantity"),
        ("area_code=415&quantity=x", "invalid_quantity"),
    ],
)
async def test_available_numbers_rejects_bad_queries(sim: Client, query: str, error: str) -> None:
    resp = await sim.get(f"/carrier/v1/available-numbers?{query}")
    assert (resp.status, (await resp.json())["error"]) == (400, error)


async def test_assignment_is_all_or_nothing_and_idempotent(sim: Client) -> None:
    a, b, c = "+14155550100", "+14155550101", "+14155550102"
    assert (resp := await assign(sim, a, b)).status == 200 and await resp.json() == {"assigned": [a, b]}
    assert (await assign(sim, a, b)).status == 200  # retry by the same account
    resp = await assign(sim, c, a, "+14155550000", account="acct-2")
    assert resp.status == 409
    assert await resp.json() == {"error": "unavailable", "unavailable": [a, "+14155550000"]}
    assert await (await sim.get(f"/sim/numbers/{c}")).json() == {
        "e164": c,
        "assigned": False,
        "account_ref": None,
    }
    assert await (await sim.get(f"/sim/numbers/{a}")).json() == {
        "e164": a,
        "assigned": True,
        "account_ref": "acct-1",
    }
    listed = await (await sim.get("/carrier/v1/available-numbers?area_code=415&quantity=3")).json()
    assert [n["e164"] for n in listed["numbers"]] == [c, "+14155550103", "+14155550104"]


async def test_release_is_idempotent_for_the_owner_only(sim: Client) -> None:
    await assign(sim, SENDER)
    other = await sim.post("/carrier/v1/numbers/release", json={"number": SENDER, "account_ref": "acct-2"})
    assert (other.status, await other.json()) == (404, {"error": "not_assigned"})
    for _ in range(2):
        resp = await sim.post("/carrier/v1/numbers/release", json={"number": SENDER, "account_ref": "acct-1"})
        assert (resp.status, await resp.json()) == (200, {"released": True})
    assert (await assign(sim, SENDER, account="acct-2")).status == 200


async def test_mt_is_delivered_to_the_handset_with_a_signed_receipt(sim: Client, receiver: Receiver) -> None:
    await assign(sim, SENDER)
    resp = await send(sim)
    accepted = await resp.json()
    assert resp.status == 202 and accepted["reference"] == "ref-1"
    assert accepted["carrier_message_id"].startswith("sim-")
    [dlr] = await receiver.wait_for("dlr", 1)
    assert dlr["carrier_message_id"] == accepted["carrier_message_id"] and dlr["reference"] == "ref-1"
    assert (dlr["status"], dlr["error_code"]) == ("DELIVRD", None) and RFC3339_MS.fullmatch(
        dlr["occurred_at"]
    )
    assert receiver.bad_signatures == 0
    for path in ("/sim/handsets/%2B12125551234/messages", "/sim/handsets/+12125551234/messages"):
        inbox = (await (await sim.get(path)).json())["data"]
        assert [(m["from"], m["to"], m["text"]) for m in inbox] == [(SENDER, HANDSET, "hello")]
        assert inbox[0]["carrier_message_id"] == accepted["carrier_message_id"]


async def test_mt_is_idempotent_on_reference(sim: Client, receiver: Receiver) -> None:
    await assign(sim, SENDER)
    first, second = await (await send(sim)).json(), await (await send(sim)).json()
    assert first == second
    await receiver.wait_for("dlr", 1)
    await asyncio.sleep(0.2)
    assert len(receiver.received["dlr"]) == 1
    assert len((await (await sim.get(f"/sim/handsets/{HANDSET}/messages")).json())["data"]) == 1


async def test_mt_needs_an_assigned_sender_and_a_valid_recipient(sim: Client) -> None:
    resp = await send(sim)
    assert (resp.status, await resp.json()) == (400, {"error": "unknown_sender"})
    await assign(sim, SENDER)
    resp = await send(sim, to="12125551234")
    assert (resp.status, await resp.json()) == (400, {"error": "invalid_number", "field": "to"})
    resp = await sim.post("/carrier/v1/messages", json={"from": SENDER})
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("override", "statuses", "in_inbox"),
    [
        ({"outcome": "undelivered"}, ["UNDELIV"], False),
        ({"outcome": "expired"}, ["EXPIRED"], False),
        ({"outcome": "delivered", "duplicate_receipts": True}, ["DELIVRD", "DELIVRD"], True),
        ({"outcome": "delivered", "out_of_order": True}, ["DELIVRD", "ACCEPTD"], True),
    ],
)
async def test_handset_overrides_shape_receipts(
    sim: Client, receiver: Receiver, override: dict[str, Any], statuses: list[str], in_inbox: bool
) -> None:
    await assign(sim, SENDER)
    assert (await sim.put(f"/sim/handsets/{HANDSET}", json=override)).status == 200
    await send(sim)
    dlrs = await receiver.wait_for("dlr", len(statuses))
    assert [d["status"] for d in dlrs] == statuses
    assert (dlrs[0]["error_code"] is None) == (statuses[0] == "DELIVRD")
    if statuses[-1] == "ACCEPTD":
        assert dlrs[1]["occurred_at"] <= dlrs[0]["occurred_at"]
    inbox = (await (await sim.get(f"/sim/handsets/{HANDSET}/messages")).json())["data"]
    assert len(inbox) == int(in_inbox)


async def test_rejecting_and_silent_handsets(sim: Client, receiver: Receiver) -> None:
    await assign(sim, SENDER)
    await sim.put(f"/sim/handsets/{HANDSET}", json={"outcome": "rejected"})
    resp = await send(sim)
    assert (resp.status, (await resp.json())["error"]) == (400, "rejected")
    await sim.put(f"/sim/handsets/{HANDSET}", json={"outcome": "no_receipt"})
    assert (await send(sim, reference="ref-2")).status == 202
    await asyncio.sleep(0.2)
    assert receiver.attempts["dlr"] == 0
    assert len((await (await sim.get(f"/sim/handsets/{HANDSET}/messages")).json())["data"]) == 1
    resp = await sim.put(f"/sim/handsets/{HANDSET}", json={"outcome": "lost"})
    assert resp.status == 400


async def test_agents_texting_each_other_get_an_mo(sim: Client, receiver: Receiver) -> None:
    other = "+14155550150"
    await assign(sim, SENDER)
    await assign(sim, other, account="acct-2")
    accepted = await (await send(sim, to=other)).json()
    [mo] = await receiver.wait_for("mo", 1)
    assert (mo["from"], mo["to"], mo["text"]) == (SENDER, other, "hello")
    assert mo["carrier_message_id"] != accepted["carrier_message_id"]
    assert RFC3339_MS.fullmatch(mo["received_at"])
    assert (await receiver.wait_for("dlr", 1))[0]["status"] == "DELIVRD"


# -- simulator controls ----------------------------------------------------------------------------
async def test_a_handset_texts_assigned_and_unassigned_numbers(sim: Client, receiver: Receiver) -> None:
    await assign(sim, SENDER)
    for to in (SENDER, "+14155550199"):
        resp = await sim.post("/sim/messages", json={"from": HANDSET, "to": to, "text": "hi"}, headers={})
        assert resp.status == 202
    mos = await receiver.wait_for("mo", 2)
    assert sorted(m["to"] for m in mos) == sorted([SENDER, "+14155550199"])
    assert all(m["from"] == HANDSET and m["carrier_message_id"].startswith("sim-") for m in mos)
    # a short code or an alphanumeric sender id texts too (sign-in codes come from them); anything else not
    for sender in ("22395", "ACME Bank"):
        resp = await sim.post("/sim/messages", json={"from": sender, "to": SENDER, "text": "code 1234"})
        assert resp.status == 202, await resp.json()
    resp = await sim.post("/sim/messages", json={"from": "not a sender!", "to": SENDER, "text": "hi"})
    body = await resp.json()
    assert (resp.status, body["error"], body["field"]) == (400, "invalid_sender", "from"), body


async def test_handsets_texts_in_one_request_go_in_order_all_checked_first(sim: Client, receiver: Receiver) -> None:
    await assign(sim, SENDER)
    texts = [{"from": HANDSET, "to": SENDER, "text": f"batch {k}"} for k in range(5)]
    resp = await sim.post("/sim/messages/batch", json={"messages": texts})
    body = await resp.json()
    assert resp.status == 202 and len(set(body["carrier_message_ids"])) == 5, body
    mos = await receiver.wait_for("mo", 5)
    assert [m["text"] for m in mos] == [t["text"] for t in texts]
    assert [m["carrier_message_id"] for m in mos] == body["carrier_message_ids"]
    # one bad text refuses the request, and none of its texts is sent
    bad = [*texts[:2], {"from": "not a sender!", "to": SENDER, "text": "hi"}]
    resp = await sim.post("/sim/messages/batch", json={"messages": bad})
    assert (resp.status, (await resp.json())["field"]) == (400, "from")
    for empty in ([], [texts[0]] * 1001):
        resp = await sim.post("/sim/messages/batch", json={"messages": empty})
        assert (resp.status, (await resp.json())["field"]) == (400, "messages")
    resp = await sim.post("/sim/messages/batch", json={"messages": texts[:1], "mesages": []})  # a misspelt field
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid_request")
    await sim.post("/sim/messages", json={"from": HANDSET, "to": SENDER, "text": "after"})
    mos = await receiver.wait_for("mo", 6)
    assert [m["text"] for m in mos][5:] == ["after"]


async def test_callbacks_are_retried_with_backoff_until_2xx(sim: Client, receiver: Receiver) -> None:
    receiver.refuse["mo"] = 2
    started = time.monotonic()
    await sim.post("/sim/messages", json={"from": HANDSET, "to": SENDER, "text": "hi"})
    await receiver.wait_for("mo", 1)
    assert receiver.attempts["mo"] == 3 and time.monotonic() - started >= 0.6  # 0.2 s + 0.4 s
    assert receiver.bad_signatures == 0


async def test_brand_identity_and_vetting(sim: Client) -> None:
    async def brand(**fields: Any) -> dict[str, Any]:
        resp = await sim.post("/carrier/v1/brands", json={"company_name": "Acme", **fields})
        assert resp.status == 200
        return dict(await resp.json())

    sole = await brand(entity_type="SOLE_PROPRIETOR", ein="12-3456789")
    assert (sole["identity_status"], sole["vetting_score"]) == ("SELF_DECLARED", 0)
    assert sole["brand_ref"].startswith("simb-")
    for ein in (None, "12345", "00-0000000", "12-345678X"):
        assert (await brand(entity_type="PRIVATE_PROFIT", ein=ein))["identity_status"] == "UNVERIFIED"
    verified = await brand(entity_type="PRIVATE_PROFIT", ein="12-3456789")
    expected = int(hashlib.sha256(b"123456789").hexdigest(), 16) % 100 + 1
    assert (verified["identity_status"], verified["vetting_score"]) == ("VERIFIED", expected)
    assert (await brand(entity_type="NON_PROFIT", ein="123456789"))["vetting_score"] == expected




async def test_campaign_review_rejects_then_approves_a_resubmission(sim: Client, receiver: Receiver) -> None:
    bad = {**GOOD_CAMPAIGN, "sample_messages": ["Welcome to Acme!"]}
    resp = await sim.post("/carrier/v1/campaigns", json=bad)
    ref = (await resp.json())["campaign_ref"]
    assert resp.status == 202 and ref.startswith("simc-")
    [rejected] = await receiver.wait_for("campaign", 1)
    assert (rejected["campaign_ref"], rejected["status"]) == (ref, "rejected")
    assert {r["code"] for r in rejected["rejection_reasons"]} == {
        "SAMPLES_MISSING_OPT_OUT",
        "SAMPLES_USE_CASE_MISMATCH",
    }
    assert all(r["description"] for r in rejected["rejection_reasons"])
    assert RFC3339_MS.fullmatch(rejected["reviewed_at"])
    resp = await sim.post("/carrier/v1/campaigns", json={**GOOD_CAMPAIGN, "campaign_ref": ref})
    assert (resp.status, await resp.json()) == (202, {"campaign_ref": ref})
    approved = (await receiver.wait_for("campaign", 2))[1]
    assert (approved["campaign_ref"], approved["status"], approved["rejection_reasons"]) == (
        ref,
        "approved",
        [],
    )
