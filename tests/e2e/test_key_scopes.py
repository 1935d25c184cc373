"""API keys with scopes and caps, end to end through the gateway: refused before any side effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.test_outbound import Org, handset, onboard
from tests.system import System


async def _key(org: Org, **body: Any) -> str:
    status, got, _ = await org.call("POST", "/v1/api-keys", json={"name": "agent", **body})
    assert status == 201, got
    return str(got["data"]["secret"])


async def _send(org: Org, key: str, to: str, text: str = "hello") -> tuple[int, Any, dict[str, str]]:
    return await org.system.call("POST", "/v1/messages", key=key, json={"from": org.number, "to": to, "text": text})


async def test_a_send_only_key_capped_at_three_sends_stops_at_the_fourth(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    key = await _key(org, preset="send-only", caps={"sends_per_day": 3})
    for _ in range(3):
        status, body, _ = await _send(org, key, contact)
        assert status == 202, body
    status, body, headers = await _send(org, key, contact)
    assert status == 429, body
    assert body["error"]["code"] == "CAP_EXCEEDED"
    assert body["error"]["details"]["cap"] == "sends_per_day" and body["error"]["details"]["limit"] == 3
    assert body["error"]["details"]["resets_at"].endswith("T00:00:00.000Z")
    assert int(headers["Retry-After"]) >= 1
    _, listing, _ = await org.call("GET", "/v1/messages")
    assert len(listing["data"]) == 3  # the fourth created nothing
    # a send-only key may not manage numbers or keys
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": ["+14155550100"]})
    assert status == 403 and body["error"]["code"] == "SCOPE_REQUIRED"
    assert body["error"]["details"]["scope"] == "numbers:write"
    # usage is visible per key
    _, keys, _ = await org.call("GET", "/v1/api-keys")
    agent = next(k for k in keys["data"] if k["name"] == "agent")
    assert agent["scopes"] == ["messages:send", "messages:read", "numbers:read", "compliance:read"]
    assert agent["caps"] == {"sends_per_day": 3}
    assert agent["usage"]["sends_today"] == 3 and agent["usage"]["spend_today"] == "0.0237"


async def test_refused_sends_do_not_count_and_spend_is_capped(system: System) -> None:
    org = await onboard(system)
    contact, stranger = handset(), handset()
    await org.consent(contact)
    key = await _key(org, caps={"spend_per_day": "0.02", "sends_per_minute": 5})
    status, body, _ = await _send(org, key, stranger)  # no consent: 453, not counted
    assert status == 453, body
    for _ in range(2):
        status, body, _ = await _send(org, key, contact)
        assert status == 202, body
    status, body, _ = await _send(org, key, contact)  # 3 x 0.0079 > 0.02
    assert status == 429 and body["error"]["details"]["cap"] == "spend_per_day", body
    assert body["error"]["details"]["used"] == "0.0158"


async def test_refused_sends_of_an_uncapped_key_do_not_count_in_its_usage(system: System) -> None:
    # given: a key without caps (its usage tallied by the gateway replica, not compared and set)
    org = await onboard(system)
    contact = await org.new_contact()
    key = await _key(org)
    # when: one send is accepted and two are refused downstream (no consent: 453)
    status, body, _ = await _send(org, key, contact)
    assert status == 202, body
    for stranger in (handset(), handset()):
        status, body, _ = await _send(org, key, stranger)
        assert status == 453, body
    # then: its usage counts the accepted send only
    _, keys, _ = await org.call("GET", "/v1/api-keys")
    agent = next(k for k in keys["data"] if k["name"] == "agent")
    assert agent["caps"] is None
    assert (agent["usage"]["sends_today"], agent["usage"]["spend_today"]) == (1, "0.0079"), agent["usage"]


async def test_a_read_only_key_is_refused_a_send_and_may_read(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    key = await _key(org, preset="read-only")
    status, body, _ = await _send(org, key, contact)
    assert status == 403, body
    assert body["error"]["code"] == "SCOPE_REQUIRED" and body["error"]["details"]["scope"] == "messages:send"
    assert (await system.call("GET", "/v1/messages", key=key))[0] == 200
    assert (await system.call("GET", "/v1/balance", key=key))[0] == 200
    status, body, _ = await system.call("POST", "/v1/api-keys", key=key, json={"name": "escalate"})
    assert status == 403 and body["error"]["details"]["scope"] == "keys:write"


async def test_a_key_limited_to_one_recipient_is_refused_for_another(system: System) -> None:
    org = await onboard(system)
    allowed, other = handset(), handset()
    await org.consent(allowed)
    await org.consent(other)
    key = await _key(org, scopes=["messages:send", "compliance:write"], caps={"allowed_recipients": [allowed]})
    status, body, _ = await _send(org, key, other)
    assert status == 403 and body["error"]["code"] == "RECIPIENT_NOT_ALLOWED", body
    status, body, _ = await system.call("POST", "/v1/consent/double-opt-in", key=key, json={
        "phone_number_id": org.number_id, "contact_number": other, "confirmation_text": "Reply YES. STOP to opt out."})
    assert status == 403 and body["error"]["code"] == "RECIPIENT_NOT_ALLOWED", body
    status, body, _ = await _send(org, key, allowed)
    assert status == 202, body
    prefix_key = await _key(org, caps={"allowed_recipients": [allowed[:5]], "allowed_from": ["+1999"]})
    status, body, _ = await _send(org, prefix_key, other)
    assert status == 403 and body["error"]["details"]["from"] == org.number, body


async def test_an_expired_key_is_401_and_keys_without_scopes_keep_full_access(system: System) -> None:
    data = await system.signup()
    owner = data["api_key"]["secret"]
    status, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={
        "name": "old", "caps": {"expires_at": "2020-01-01T00:00:00Z"}})
    assert status == 400 and body["error"]["details"]["field"] == "caps.expires_at", body  # born expired: refused
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    status, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={
        "name": "brief", "caps": {"expires_at": soon}})
    assert status == 201 and body["data"]["expires_at"], body
    brief = body["data"]["secret"]

    async def expired() -> bool:
        status, body, _ = await system.call("GET", "/v1/balance", key=brief)
        assert status in (200, 401), body
        return status == 401 and body["error"]["code"] == "UNAUTHORIZED"

    await system.eventually(expired, timeout=30)
    status, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={"name": "plain"})
    assert status == 201 and body["data"]["scopes"] is None
    plain = body["data"]["secret"]
    assert (await system.call("GET", "/v1/api-keys", key=plain))[0] == 200
    status, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={"name": "x", "scopes": ["sms:all"]})
    assert status == 400 and body["error"]["details"]["field"] == "scopes.0", body


async def test_a_cap_holds_across_two_gateway_replicas(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    key = await _key(org, caps={"sends_per_day": 3})
    svc, other = await system.another_gateway()
    try:
        answers = []
        for i in range(4):  # alternate replicas: each counts on the shared counters
            base = other if i % 2 else system.gateway
            assert system.http is not None
            async with system.http.post(f"{base}/v1/messages", headers={"Authorization": f"Bearer {key}"},
                                        json={"from": org.number, "to": contact, "text": "hi"}) as r:
                answers.append((r.status, (await r.json())["success"]))
        assert answers == [(202, True), (202, True), (202, True), (429, False)]
    finally:
        await svc.stop()
