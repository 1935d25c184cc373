"""Numbers end to end: search, order (all or nothing, paid, raced), configure, rotate, release."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats

from proto.base import CommandError
from proto.commands.numbers import GetNumber, InboundRoute, ResolveInbound
from tests.system import System


async def new_org(system: System) -> tuple[str, str]:
    data = await system.signup()
    return data["api_key"]["secret"], data["organization"]["id"]


async def order(system: System, key: str, *numbers: str) -> tuple[int, Any]:
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": list(numbers)})
    return status, body


async def balance(system: System, key: str) -> str:
    status, body, _ = await system.call("GET", "/v1/balance", key=key)
    assert status == 200, body
    return str(body["data"]["balance"])


async def resolve(system: System, e164: str) -> InboundRoute:
    svc = system.services["numbers"]
    route: InboundRoute = await svc.rpc.call(ResolveInbound(e164=e164))
    return route


async def test_quickstart_step_2_search_then_order(system: System) -> None:
    key, org_id = await new_org(system)
    # given the quickstart's search, verbatim
    status, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                        json={"area_code": "415", "quantity": 5})
    assert status == 200, body
    found = body["data"]
    assert len(found) == 5
    assert all(n["phone_number"].startswith("+1415") and n["monthly_price"] == "1.1500" for n in found)
    assert all("sms" in n["capabilities"] for n in found)
    # when ordering the quickstart's number, verbatim
    status, body = await order(system, key, "+14155550123")
    # then it is ours, and its id is the phone_number_id later steps use
    assert status == 201, body
    order_view = body["data"]
    assert order_view["status"] == "completed"
    number = order_view["phone_numbers"][0]
    assert number["phone_number"] == "+14155550123" and number["status"] == "active"
    assert uuid.UUID(number["id"]) and number["id"] != order_view["id"]
    status, body, _ = await system.call("GET", f"/v1/phone-numbers/{number['id']}", key=key)
    assert status == 200 and body["data"]["phone_number"] == "+14155550123"
    assert body["data"]["sending_enabled"] is False and body["data"]["campaign_id"] is None
    status, body, _ = await system.call("GET", "/v1/phone-numbers", key=key)
    assert [n["id"] for n in body["data"]] == [number["id"]] and body["meta"] == {"next_cursor": None}
    # paid for, assigned at the carrier, routable for inbound at once
    assert await balance(system, key) == "3.8500"
    status, sim, _ = await system.call("GET", "/sim/numbers/+14155550123")
    assert sim["assigned"] is True and sim["account_ref"] == org_id
    route = await resolve(system, "+14155550123")
    assert route.org_id == org_id and route.phone_number_id == number["id"]
    # other services resolve "the id from your order response" (step 5) to the number, whichever id it is
    rpc = system.services["numbers"].rpc
    for given in (number["id"], order_view["id"]):
        ref = await rpc.call(GetNumber(org_id=org_id, phone_number_id=given))
        assert (ref.id, ref.e164, ref.org_id) == (number["id"], "+14155550123", org_id)
    other_org = (await system.signup())["organization"]["id"]
    try:
        await rpc.call(GetNumber(org_id=other_org, phone_number_id=number["id"]))
        raise AssertionError("another org resolved the number")
    except CommandError as exc:
        assert exc.code == "NOT_FOUND"
    # and a searched number is no longer offered
    _, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                   json={"area_code": "415", "quantity": 100})
    assert "+14155550123" not in [n["phone_number"] for n in body["data"]]


async def test_two_orgs_racing_for_one_number_exactly_one_wins(system: System) -> None:
    (a, a_org), (b, b_org) = await new_org(system), await new_org(system)
    target = "+12125550150"
    (sa, ba), (sb, bb) = await asyncio.gather(order(system, a, target), order(system, b, target))
    assert sorted([sa, sb]) == [201, 409], (ba, bb)
    winner, loser = (a, b) if sa == 201 else (b, a)
    lost = bb if sa == 201 else ba
    assert lost["error"]["code"] == "NUMBER_UNAVAILABLE"
    assert lost["error"]["details"]["unavailable"] == [target]
    assert await balance(system, winner) == "3.8500"
    assert await balance(system, loser) == "5.0000"
    _, body, _ = await system.call("GET", "/v1/phone-numbers", key=loser)
    assert body["data"] == []
    winner_org = a_org if sa == 201 else b_org
    assert (await resolve(system, target)).org_id == winner_org
    _, sim, _ = await system.call("GET", f"/sim/numbers/{target}")
    assert sim["account_ref"] == winner_org


async def test_order_naming_a_taken_number_changes_nothing(system: System) -> None:
    (a, _), (b, _) = await new_org(system), await new_org(system)
    taken, free = "+13035550110", "+13035550111"
    assert (await order(system, a, taken))[0] == 201
    status, body = await order(system, b, free, taken)
    assert status == 409, body
    assert body["error"]["code"] == "NUMBER_UNAVAILABLE"
    assert body["error"]["details"]["unavailable"] == [taken]
    # nothing changed for b: no number, no debit, and the free one is still free everywhere
    _, listing, _ = await system.call("GET", "/v1/phone-numbers", key=b)
    assert listing["data"] == []
    assert await balance(system, b) == "5.0000"
    _, sim, _ = await system.call("GET", f"/sim/numbers/{free}")
    assert sim["assigned"] is False
    try:
        await resolve(system, free)
        raise AssertionError("an unowned number resolved")
    except CommandError as exc:
        assert exc.code == "NOT_FOUND"
    # a number the carrier does not have: credit was held, then given back, and nothing is claimed
    status, body = await order(system, b, free, "+14155559999")
    assert status == 409 and body["error"]["details"]["unavailable"] == ["+14155559999"], body
    assert await balance(system, b) == "5.0000"
    _, listing, _ = await system.call("GET", "/v1/phone-numbers", key=b)
    assert listing["data"] == []
    # and b can order it alone
    assert (await order(system, b, free))[0] == 201
    assert await balance(system, b) == "3.8500"


async def test_order_more_than_credit_is_402_and_changes_nothing(system: System) -> None:
    key, _ = await new_org(system)
    numbers = [f"+16175550{i}" for i in range(120, 125)]  # 5 x 1.15 > 5.00
    status, body = await order(system, key, *numbers)
    assert status == 402 and body["error"]["code"] == "INSUFFICIENT_CREDIT", body
    assert await balance(system, key) == "5.0000"
    _, listing, _ = await system.call("GET", "/v1/phone-numbers", key=key)
    assert listing["data"] == []
    _, sim, _ = await system.call("GET", f"/sim/numbers/{numbers[0]}")
    assert sim["assigned"] is False


async def test_bad_area_codes_and_quantities_are_400_naming_the_field(system: System) -> None:
    key, _ = await new_org(system)
    for area_code in ("123", "41", "abc", "911", "999", "4155"):
        status, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                            json={"area_code": area_code, "quantity": 5})
        assert status == 400, (area_code, body)
        assert body["error"]["code"] == "VALIDATION_ERROR" and body["error"]["details"]["field"] == "area_code"
    for quantity in (0, 101, "five", -1):
        status, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                            json={"area_code": "415", "quantity": quantity})
        assert status == 400, (quantity, body)
        assert body["error"]["details"]["field"] == "quantity"
    status, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key, json={"quantity": 5})
    assert status == 400 and body["error"]["details"]["field"] == "area_code"
    status, body = await order(system, key, "not a number")
    assert status == 400 and body["error"]["details"]["field"] == "numbers.0"
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": []})
    assert status == 400 and body["error"]["details"]["field"] == "numbers"


async def test_inbound_url_gives_a_secret_and_rotation_keeps_both(system: System) -> None:
    key, org_id = await new_org(system)
    status, body = await order(system, key, "+14155550140")
    pid = body["data"]["phone_numbers"][0]["id"]
    assert body["data"]["phone_numbers"][0]["webhook_secret"] is None
    status, body, _ = await system.call("PATCH", f"/v1/phone-numbers/{pid}", key=key, json={
        "inbound_url": "http://127.0.0.1:9/sms", "friendly_name": "support line"})
    assert status == 200, body
    first = body["data"]["webhook_secret"]
    assert first.startswith("whsec_") and len(first) > 20
    assert body["data"]["inbound_url"] == "http://127.0.0.1:9/sms" and body["data"]["friendly_name"] == "support line"
    _, got, _ = await system.call("GET", f"/v1/phone-numbers/{pid}", key=key)
    assert got["data"]["webhook_secret"] == first
    # changing the URL keeps the secret
    _, body, _ = await system.call("PATCH", f"/v1/phone-numbers/{pid}", key=key,
                                   json={"inbound_url": "https://localhost:8443/sms"})
    assert body["data"]["webhook_secret"] == first
    route = await resolve(system, "+14155550140")
    assert route.webhook_secrets == [first] and route.inbound_url == "https://localhost:8443/sms"
    status, body, _ = await system.call("POST", f"/v1/phone-numbers/{pid}/webhook-secret/rotate", key=key)
    assert status == 200, body
    second = body["data"]["webhook_secret"]
    assert second != first and second.startswith("whsec_")
    assert body["data"]["previous_webhook_secret_expires_at"] is not None
    route = await resolve(system, "+14155550140")
    assert route.org_id == org_id and route.webhook_secrets == [second, first]


async def test_bad_urls_are_400_naming_the_field(system: System) -> None:
    key, _ = await new_org(system)
    _, body = await order(system, key, "+14155550141")
    pid = body["data"]["phone_numbers"][0]["id"]
    for url in ("http://example.com/sms", "ftp://example.com/x", "not a url", "https://10.0.0.5/sms",
                "https://169.254.169.254/latest/meta-data", "https://192.168.1.1/", "https://[fd00::1]/x",
                "https://user:pw@example.com/x", "http://10.0.0.1/sms"):
        status, body, _ = await system.call("PATCH", f"/v1/phone-numbers/{pid}", key=key, json={"inbound_url": url})
        assert status == 400, (url, body)
        assert body["error"]["code"] == "VALIDATION_ERROR" and body["error"]["details"]["field"] == "inbound_url"
    status, body, _ = await system.call("PATCH", f"/v1/phone-numbers/{pid}", key=key,
                                        json={"status_callback_url": "http://example.com/cb"})
    assert status == 400 and body["error"]["details"]["field"] == "status_callback_url"
    _, got, _ = await system.call("GET", f"/v1/phone-numbers/{pid}", key=key)
    assert got["data"]["inbound_url"] is None and got["data"]["webhook_secret"] is None


async def test_released_number_can_be_ordered_by_another_org(system: System) -> None:
    (a, _), (b, b_org) = await new_org(system), await new_org(system)
    number = "+14155550160"
    _, body = await order(system, a, number)
    a_id = body["data"]["phone_numbers"][0]["id"]
    status, body, _ = await system.call("DELETE", f"/v1/phone-numbers/{a_id}", key=a)
    assert status == 200 and body["data"]["status"] == "released", body
    assert (await system.call("GET", f"/v1/phone-numbers/{a_id}", key=a))[0] == 404
    status, body = await order(system, b, number)
    assert status == 201, body
    b_id = body["data"]["phone_numbers"][0]["id"]
    assert b_id != a_id
    assert (await system.call("GET", f"/v1/phone-numbers/{a_id}", key=a))[0] == 404
    _, listing, _ = await system.call("GET", "/v1/phone-numbers", key=a)
    assert listing["data"] == []
    assert (await resolve(system, number)).org_id == b_org
    assert (await system.call("DELETE", f"/v1/phone-numbers/{a_id}", key=a))[0] == 404


async def test_other_orgs_number_is_404(system: System) -> None:
    (a, _), (b, _) = await new_org(system), await new_org(system)
    _, body = await order(system, a, "+14155550170")
    pid = body["data"]["phone_numbers"][0]["id"]
    for method, path, payload in (("GET", f"/v1/phone-numbers/{pid}", None),
                                  ("PATCH", f"/v1/phone-numbers/{pid}", {"friendly_name": "mine"}),
                                  ("POST", f"/v1/phone-numbers/{pid}/webhook-secret/rotate", None),
                                  ("DELETE", f"/v1/phone-numbers/{pid}", None),
                                  ("GET", "/v1/phone-numbers/not-a-uuid", None)):
        status, body, _ = await system.call(method, path, key=b, json=payload)
        assert status == 404 and body["error"]["code"] == "NOT_FOUND", (method, path, body)
    _, got, _ = await system.call("GET", f"/v1/phone-numbers/{pid}", key=a)
    assert got["data"]["status"] == "active" and got["data"]["friendly_name"] is None


async def test_number_events_can_be_tailed(system: System) -> None:
    key, org_id = await new_org(system)
    svc = system.services["numbers"]
    nc = await nats.connect(system.env["AM_NATS_URL"])  # an operator's connection (services may not tail)
    js = nc.jetstream()
    sub = await js.subscribe(f"{svc.subjects.root}.numbers.phone_number.>", ordered_consumer=True)
    _, body = await order(system, key, "+14155550180")
    pid = body["data"]["phone_numbers"][0]["id"]
    await system.call("PATCH", f"/v1/phone-numbers/{pid}", key=key, json={"inbound_url": "https://localhost/x"})
    await system.call("DELETE", f"/v1/phone-numbers/{pid}", key=key)
    seen: list[str] = []
    for _ in range(4):
        msg = await sub.next_msg(timeout=30)
        seen.append(msg.subject.split(".")[3])
        assert msg.subject.endswith(org_id)
        assert b"whsec_" not in msg.data
    assert seen == ["phone_number_ordered", "phone_number_configured", "webhook_secret_rotated",
                    "phone_number_released"]
    await sub.unsubscribe()
    await nc.close()
