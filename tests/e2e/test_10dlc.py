"""10DLC end to end: brands, campaigns, the carrier's asynchronous review, numbers on campaigns, and
the sender status other services gate sends on."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import nats
from aiohttp import web

from libs.testing.receiver import receiving
from libs.webhooks.signing import HEADER, verify
from proto.commands.numbers import SenderInfo, SenderStatus
from services.numbers.rules import daily_cap, throughput_mpm
from tests.e2e import data
from tests.system import System

BRAND = data.BRAND
CAMPAIGN = data.CAMPAIGN


async def org_with_number(system: System, number: str) -> tuple[str, str, str]:
    data = await system.signup()
    key = data["api_key"]["secret"]
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": [number]})
    assert status == 201, body
    return key, data["organization"]["id"], body["data"]["phone_numbers"][0]["id"]


async def sender(system: System, org_id: str, e164: str) -> SenderInfo:
    svc = system.services["numbers"]
    info: SenderInfo = await svc.rpc.call(SenderStatus(org_id=org_id, e164=e164))
    return info


async def register(system: System, key: str, **over: Any) -> dict[str, Any]:
    status, body, _ = await system.call("POST", "/v1/brands", key=key, json={**BRAND, **over})
    assert status == 201, body
    return dict(body["data"])


async def campaign(system: System, key: str, brand_id: str, **over: Any) -> dict[str, Any]:
    status, body, _ = await system.call("POST", "/v1/campaigns", key=key,
                                        json={**CAMPAIGN, "brand_id": brand_id, **over})
    assert status == 201, body
    return dict(body["data"])


async def settled(system: System, key: str, campaign_id: str, timeout: float = 5.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        _, body, _ = await system.call("GET", f"/v1/campaigns/{campaign_id}", key=key)
        return dict(body["data"]) if body["data"]["status"] != "pending_review" else None

    result: dict[str, Any] = await system.eventually(check, timeout=timeout)
    return result


async def test_quickstart_step_4_unlocks_sending(system: System) -> None:
    key, org_id, pid = await org_with_number(system, "+14155550123")
    info = await sender(system, org_id, "+14155550123")
    assert not info.sending_enabled and info.reason_code == "NO_BRAND" and "POST /v1/brands" in info.reason
    brand = await register(system, key)
    assert brand["identity_status"] == "VERIFIED" and 1 <= brand["vetting_score"] <= 100
    assert (await sender(system, org_id, "+14155550123")).reason_code == "NO_CAMPAIGN"
    # a campaign that names no numbers takes the org's free ones
    camp = await campaign(system, key, brand["id"])
    assert camp["status"] == "pending_review" and camp["phone_number_ids"] == [pid]
    info = await sender(system, org_id, "+14155550123")
    assert not info.sending_enabled and info.reason_code == "CAMPAIGN_PENDING" and info.campaign_id == camp["id"]
    done = await settled(system, key, camp["id"])
    assert done["status"] == "approved" and done["rejection_reasons"] == [] and done["reviewed_at"]
    info = await sender(system, org_id, "+14155550123")
    assert info.sending_enabled and info.reason_code is None
    assert info.throughput_mpm == throughput_mpm(brand["vetting_score"]) == done["throughput_mpm"]
    assert info.daily_cap == daily_cap(brand["vetting_score"])
    assert info.brand_name == "Acme Agents" and info.brand_id == brand["id"]
    assert info.help_message and "STOP" in info.help_message and info.opt_out_message
    _, num, _ = await system.call("GET", f"/v1/phone-numbers/{pid}", key=key)
    assert num["data"]["sending_enabled"] is True and num["data"]["campaign_id"] == camp["id"]
    _, listing, _ = await system.call("GET", "/v1/campaigns", key=key)
    assert [c["id"] for c in listing["data"]] == [camp["id"]]
    _, listing, _ = await system.call("GET", "/v1/brands", key=key)
    assert [b["id"] for b in listing["data"]] == [brand["id"]]


async def test_rejected_without_opt_out_then_fixed_resubmission_is_approved(system: System) -> None:
    key, org_id, _ = await org_with_number(system, "+14155550124")
    brand = await register(system, key)
    camp = await campaign(system, key, brand["id"], sample_messages=["Acme: your order 1234 has shipped."])
    done = await settled(system, key, camp["id"])
    assert done["status"] == "rejected"
    assert "SAMPLES_MISSING_OPT_OUT" in [r["code"] for r in done["rejection_reasons"]]
    info = await sender(system, org_id, "+14155550124")
    assert not info.sending_enabled and info.reason_code == "CAMPAIGN_REJECTED"
    assert "SAMPLES_MISSING_OPT_OUT" in info.reason
    assert info.details["rejection_reasons"][0]["code"] == "SAMPLES_MISSING_OPT_OUT"
    fix = {"sample_messages": ["Acme: your order 1234 has shipped. Reply STOP to opt out."]}
    path = f"/v1/campaigns/{camp['id']}/resubmit"
    status, body, _ = await system.call("POST", path, key=key, json=fix, headers={"Idempotency-Key": "fix-1"})
    assert status == 200, body
    assert body["data"]["status"] == "pending_review" and body["data"]["rejection_reasons"] == []
    assert body["data"]["description"] == CAMPAIGN["description"]  # fields left out keep their value
    done = await settled(system, key, camp["id"])
    assert done["status"] == "approved", done
    assert (await sender(system, org_id, "+14155550124")).sending_enabled
    status, body, _ = await system.call("POST", f"/v1/campaigns/{camp['id']}/resubmit", key=key)
    assert status == 409 and body["error"]["code"] == "CONFLICT"
    # the resubmission's answer lost (its key freed, as after a fault): its retry finds the campaign, not 409
    from services.gateway.edge import Idempotency

    gw = system.services["gateway"]
    await (await Idempotency.open(gw.nc, gw.subjects, 3600, 30)).kv.delete(
        Idempotency.slot(org_id, "POST", path, "fix-1"))
    status, body, _ = await system.call("POST", path, key=key, json=fix, headers={"Idempotency-Key": "fix-1"})
    assert status == 200 and body["data"]["id"] == camp["id"] and body["data"]["status"] == "approved", body


async def test_brands_and_campaigns_are_invisible_to_other_orgs(system: System) -> None:
    key, _, pid = await org_with_number(system, "+14155550125")
    other = (await system.signup())["api_key"]["secret"]
    brand = await register(system, key)
    camp = await campaign(system, key, brand["id"])
    for path in (f"/v1/brands/{brand['id']}", f"/v1/campaigns/{camp['id']}", "/v1/brands/nope"):
        status, body, _ = await system.call("GET", path, key=other)
        assert status == 404 and body["error"]["code"] == "NOT_FOUND", path
    for path in ("/v1/brands", "/v1/campaigns"):
        status, body, _ = await system.call("GET", path, key=other)
        assert status == 200 and body["data"] == [], path
    status, body, _ = await system.call("POST", "/v1/campaigns", key=other, json={**CAMPAIGN, "brand_id": brand["id"]})
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    status, _, _ = await system.call("POST", f"/v1/campaigns/{camp['id']}/resubmit", key=other)
    assert status == 404
    status, _, _ = await system.call("DELETE", f"/v1/campaigns/{camp['id']}/phone-numbers/{pid}", key=other)
    assert status == 404
    _, own, _ = await system.call("GET", f"/v1/campaigns/{camp['id']}", key=key)
    assert own["data"]["phone_number_ids"] == [pid]


async def test_number_ordered_after_approval_joins_the_only_campaign(system: System) -> None:
    key, org_id, _ = await org_with_number(system, "+14155550126")
    brand = await register(system, key)
    camp = await campaign(system, key, brand["id"])
    assert (await settled(system, key, camp["id"]))["status"] == "approved"
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": ["+14155550127"]})
    assert status == 201, body
    later = body["data"]["phone_numbers"][0]
    assert later["campaign_id"] == camp["id"] and later["sending_enabled"] is True
    assert (await sender(system, org_id, "+14155550127")).sending_enabled
    _, got, _ = await system.call("GET", f"/v1/campaigns/{camp['id']}", key=key)
    assert later["id"] in got["data"]["phone_number_ids"] and len(got["data"]["phone_number_ids"]) == 2


async def test_numbers_on_campaigns_explicitly(system: System) -> None:
    key, _, pid = await org_with_number(system, "+14155550128")
    brand = await register(system, key)
    empty = await campaign(system, key, brand["id"], phone_number_ids=[])
    assert empty["phone_number_ids"] == []
    status, body, _ = await system.call("POST", f"/v1/campaigns/{empty['id']}/phone-numbers", key=key,
                                        json={"phone_number_ids": [pid]})
    assert status == 200 and body["data"]["phone_number_ids"] == [pid], body
    second = await campaign(system, key, brand["id"], phone_number_ids=[])
    status, body, _ = await system.call("POST", f"/v1/campaigns/{second['id']}/phone-numbers", key=key,
                                        json={"phone_number_ids": [pid]})
    assert status == 409 and body["error"]["code"] == "NUMBER_ON_OTHER_CAMPAIGN"
    status, body, _ = await system.call("POST", "/v1/campaigns", key=key,
                                        json={**CAMPAIGN, "brand_id": brand["id"], "phone_number_ids": [pid]})
    assert status == 409 and body["error"]["code"] == "NUMBER_ON_OTHER_CAMPAIGN"
    status, body, _ = await system.call("DELETE", f"/v1/campaigns/{empty['id']}/phone-numbers/{pid}", key=key)
    assert status == 200 and body["data"]["phone_number_ids"] == []
    status, body, _ = await system.call("DELETE", f"/v1/campaigns/{empty['id']}/phone-numbers/{pid}", key=key)
    assert status == 404
    # two campaigns now: a newly ordered number joins neither
    _, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": ["+14155550129"]})
    assert body["data"]["phone_numbers"][0]["campaign_id"] is None


async def test_brand_validation_and_sole_proprietor_limit(system: System) -> None:
    key, _, _ = await org_with_number(system, "+14155550130")
    for over, field in (({"ein": None}, "ein"), ({"ein": "12-34"}, "ein"), ({"entity_type": "LLC"}, "entity_type"),
                        ({"email": "nope"}, "email"), ({"phone": "12"}, "phone"), ({"company_name": None}, "company_name")):
        status, body, _ = await system.call("POST", "/v1/brands", key=key, json={**BRAND, **over})
        assert status == 400, (over, body)
        assert body["error"]["code"] == "VALIDATION_ERROR" and body["error"]["details"]["field"] == field
    sole = await register(system, key, entity_type="SOLE_PROPRIETOR", ein=None, company_name=None)
    assert sole["identity_status"] == "SELF_DECLARED"
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": ["+14155550131"]})
    assert status == 201
    camp = await campaign(system, key, sole["id"])  # both numbers join: over a sole proprietor's limit
    assert len(camp["phone_number_ids"]) == 2
    done = await settled(system, key, camp["id"])
    assert done["status"] == "rejected"
    assert "SOLE_PROPRIETOR_LIMIT" in [r["code"] for r in done["rejection_reasons"]]
    status, body, _ = await system.call("POST", "/v1/campaigns", key=key, json={**CAMPAIGN, "brand_id": sole["id"],
                                                                                "use_case": "NOT_A_USE_CASE"})
    assert status == 400 and body["error"]["details"]["field"] == "use_case"
    status, body, _ = await system.call("POST", "/v1/campaigns", key=key, json={**CAMPAIGN, "brand_id": sole["id"],
                                                                                "sample_messages": []})
    assert status == 400 and body["error"]["details"]["field"] == "sample_messages"


async def test_review_outcome_is_an_event_and_a_signed_callback(system: System) -> None:
    received: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get(HEADER, "")))
        return web.Response(status=204 if len(received) > 1 else 500)  # the first try fails: it is retried

    async with receiving("/cb", hook) as port:
        key, org_id, _ = await org_with_number(system, "+14155550132")
        svc = system.services["numbers"]
        nc = await nats.connect(system.env["AM_NATS_URL"])  # an operator's connection (services may not tail)
        sub = await nc.jetstream().subscribe(f"{svc.subjects.root}.numbers.campaign.>", ordered_consumer=True)
        brand = await register(system, key)
        camp = await campaign(system, key, brand["id"], status_callback_url=f"http://127.0.0.1:{port}/cb")
        secret = camp["webhook_secret"]
        assert secret and secret.startswith("whsec_")
        await system.eventually(lambda: asyncio.sleep(0, result=len(received) >= 2), timeout=30)
        body, signature = received[-1]
        assert verify(secret, signature, body)
        assert b'"type":"campaign.approved"' in body and camp["id"].encode() in body
        assert secret.encode() not in body and json.loads(body)["data"]["webhook_secret"] is None
        seen = [(await sub.next_msg(timeout=30)).subject.split(".")[3] for _ in range(3)]
        assert seen == ["campaign_submitted", "campaign_number_assigned", "campaign_approved"]
        await sub.unsubscribe()
        await nc.close()
        del org_id


async def test_carrier_callback_is_verified_and_applied_once(system: System) -> None:
    svc = system.services["numbers"]
    url = f"http://127.0.0.1:{svc.port}/carrier/campaigns"
    assert system.http is not None

    async def post(payload: dict[str, Any], signature: str | None = None) -> int:
        raw = json.dumps(payload).encode()
        t = int(time.time())
        mac = hmac.new(b"sim-dev-callback-secret", f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
        async with system.http.post(url, data=raw, headers={  # type: ignore[union-attr]
                "X-Sim-Signature": signature or f"t={t},v1={mac}"}) as r:
            return r.status

    assert await post({"campaign_ref": "x", "status": "approved"}, "t=1,v1=00") == 401
    assert await post({"campaign_ref": "unknown", "status": "approved"}) == 200
    assert await post({"campaign_ref": "unknown", "status": "maybe"}) == 400
    key, org_id, _ = await org_with_number(system, "+14155550133")
    brand = await register(system, key)
    camp = await campaign(system, key, brand["id"])
    assert (await settled(system, key, camp["id"]))["status"] == "approved"
    ref = await svc.store.pool.fetchval("SELECT carrier_ref FROM campaigns WHERE id = $1::uuid", camp["id"])
    # a late, repeated or contradicting decision changes nothing once one is applied
    late = {"campaign_ref": ref, "status": "rejected", "reviewed_at": "2099-01-01T00:00:00.000Z",
            "rejection_reasons": [{"code": "DESCRIPTION_TOO_SHORT", "description": "x"}]}
    assert await post(late) == 200
    _, body, _ = await system.call("GET", f"/v1/campaigns/{camp['id']}", key=key)
    assert body["data"]["status"] == "approved" and body["data"]["rejection_reasons"] == []
    assert (await sender(system, org_id, "+14155550133")).sending_enabled


async def test_the_send_answer_names_what_is_missing_now(system: System) -> None:
    """A verified brand without a campaign is NO_CAMPAIGN at once — not the NO_BRAND of a send a moment
    before the brand (the gate no longer reuses a refusal) — then CAMPAIGN_PENDING."""
    key, _, pid = await org_with_number(system, "+14155550177")
    send = {"from": "+14155550177", "to": "+15551230077", "text": "hello"}
    status, body, _ = await system.call("POST", "/v1/messages", key=key, json=send)
    assert status == 403 and body["error"]["code"] == "SENDING_NOT_ENABLED", body
    assert body["error"]["details"]["reason_code"] == "NO_BRAND" and "NO_BRAND" in body["error"]["message"], body
    brand = await register(system, key)
    assert brand["identity_status"] == "VERIFIED"
    status, body, _ = await system.call("POST", "/v1/messages", key=key, json=send)
    assert status == 403 and body["error"]["details"]["reason_code"] == "NO_CAMPAIGN", body
    assert "NO_CAMPAIGN" in body["error"]["message"] and "NO_BRAND" not in body["error"]["message"], body
    check = [k for k in body["error"]["details"]["checks"] if k["name"] == "registration"]
    assert check and "NO_CAMPAIGN" in check[0]["detail"], body
    camp = await campaign(system, key, brand["id"])
    assert camp["phone_number_ids"] == [pid]
    status, body, _ = await system.call("POST", "/v1/messages", key=key, json=send)
    assert status == 403 and body["error"]["details"]["reason_code"] in ("CAMPAIGN_PENDING", None), body


async def test_promotional_samples_under_a_notification_use_case_are_rejected_with_the_reason(
        system: System) -> None:
    key, _, _ = await org_with_number(system, "+14155550178")
    brand = await register(system, key)
    camp = await campaign(system, key, brand["id"], sample_messages=[
        "Acme: 20% off all plans this weekend only! Shop now at acme.example. Reply STOP to opt out."])
    done = await settled(system, key, camp["id"])
    assert done["status"] == "rejected", done
    reasons = {r["code"]: r["description"] for r in done["rejection_reasons"]}
    assert "SAMPLES_PROMOTIONAL" in reasons and "ACCOUNT_NOTIFICATION" in reasons["SAMPLES_PROMOTIONAL"], done
    # the same samples under MARKETING (with an opt-in) pass review
    camp = await campaign(system, key, brand["id"], use_case="MARKETING", phone_number_ids=[],
                          opt_in_keywords=["START"], sample_messages=[
                              "Acme: 20% off all plans this weekend only! Reply STOP to opt out."])
    assert (await settled(system, key, camp["id"]))["status"] == "approved"
