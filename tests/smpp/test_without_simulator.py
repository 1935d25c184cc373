"""Production without the simulator: numbers from the operator's file (AM_NUMBERS_FILE), campaign verdicts
recorded with ``amctl campaigns approve|reject``, and texts over SMPP to an SMSC that is not ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from libs.embedded.ports import free_port
from services.amctl import carrier as amctl
from tests.e2e.data import BRAND, CAMPAIGN
from tests.e2e.test_outbound import Org
from tests.smpp.node import NodeSmsc
from tests.system import running_system


async def test_numbers_file_operator_verdicts_and_smpp(settings_env: dict[str, str], tmp_path: Path,
                                                      capsys: Any) -> None:
    leased = tmp_path / "numbers.txt"
    leased.write_text("# leased from our carrier\n+14155550177,CA,San Francisco\n+14155550178\n+12125550100\n")
    smsc = NodeSmsc(free_port())
    await smsc.start()
    env = {"AM_NUMBERS_FILE": str(leased), "AM_SMPP_URL": smsc.url(), "AM_SIM_CAMPAIGN_CALLBACK_URL": ""}
    root, nats_url = settings_env["AM_SUBJECT_ROOT"], settings_env["AM_NATS_URL"]
    try:
        async with running_system(settings_env, env) as system:
            data = await system.signup()
            key = data["api_key"]["secret"]
            status, found, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                                 json={"area_code": "415", "quantity": 5})
            assert status == 200 and [n["phone_number"] for n in found["data"]] == ["+14155550177", "+14155550178"]
            assert found["data"][0]["region"] == "CA"
            status, order, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key,
                                                 json={"numbers": ["+14155550177"]})
            assert status == 201, order
            number = order["data"]["phone_numbers"][0]
            _, found, _ = await system.call("POST", "/v1/phone-numbers/search", key=key, json={"area_code": "415"})
            assert [n["phone_number"] for n in found["data"]] == ["+14155550178"]  # ordered: no longer offered
            status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key,
                                                json={"numbers": ["+14155550199"]})  # not leased
            assert status == 409 and body["error"]["code"] == "NUMBER_UNAVAILABLE", body

            status, brand, _ = await system.call("POST", "/v1/brands", key=key, json=BRAND)
            assert status == 201 and brand["data"]["identity_status"] == "VERIFIED", brand
            status, camp, _ = await system.call("POST", "/v1/campaigns", key=key,
                                                json={**CAMPAIGN, "brand_id": brand["data"]["id"]})
            assert status == 201 and camp["data"]["status"] == "pending_review", camp
            cid = camp["data"]["id"]
            # the operator records the carrier's verdicts
            assert await amctl.review_campaign(nats_url, root, cid, False, ["SAMPLES:add the brand name"]) == 0
            _, got, _ = await system.call("GET", f"/v1/campaigns/{cid}", key=key)
            assert got["data"]["status"] == "rejected"
            assert got["data"]["rejection_reasons"] == [{"code": "SAMPLES", "description": "add the brand name"}]
            assert await amctl.review_campaign(nats_url, root, cid, True, []) == 1  # not pending review now
            assert "CONFLICT" in capsys.readouterr().out
            status, again, _ = await system.call("POST", f"/v1/campaigns/{cid}/resubmit", key=key, json={})
            assert status in (200, 202) and again["data"]["status"] == "pending_review", again
            assert await amctl.review_campaign(nats_url, root, cid, True, []) == 0
            _, got, _ = await system.call("GET", f"/v1/campaigns/{cid}", key=key)
            assert got["data"]["status"] == "approved"

            # and texts go out over SMPP
            await system.call("PATCH", "/v1/compliance/settings", key=key, json={"quiet_hours_enabled": False})
            org = Org(system, key, data["organization"]["id"], number["phone_number"], number["id"])
            to = await org.new_contact()
            status, sent = await org.send(to)
            assert status == 202, sent
            final = await org.until_terminal([sent["data"]["id"]])
            assert final[sent["data"]["id"]]["status"] == "delivered"
            [sm] = smsc.of("submit_sm")
            assert (sm["source_addr"], sm["destination_addr"]) == ("14155550177", to[1:])
    finally:
        await smsc.stop()
