"""The SDK on its own: retries with one idempotency key, errors carrying the API's code, pagination,
webhook signatures. The HTTP peer is an in-memory httpx transport (the e2e tests use the real API)."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from agentmessage import ApiError, AsyncClient, Client, verify_signature

MSG = {"id": "m1", "from": "+14155550100", "to": "+15551234567", "text": "hi", "status": "queued",
       "created_at": "2026-01-01T00:00:00.000Z", "segments": 1, "price": "0.0079", "new_field": 1}


async def test_a_send_is_retried_on_503_and_429_with_one_idempotency_key() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers["Idempotency-Key"])
        if len(seen) == 1:
            return httpx.Response(503, json={"success": False, "error": {"code": "SERVICE_UNAVAILABLE", "message": ""}})
        if len(seen) == 2:
            return httpx.Response(429, headers={"Retry-After": "0"},
                                  json={"success": False, "error": {"code": "RATE_LIMITED", "message": ""}})
        assert json.loads(req.content) == {"from": "+14155550100", "to": "+15551234567", "text": "hi"}
        return httpx.Response(202, json={"success": True, "data": MSG})

    async with AsyncClient("am_live_x", "http://api.test/v1", transport=httpx.MockTransport(handler)) as am:
        msg = await am.send_message("+14155550100", "+15551234567", "hi")
    assert msg.id == "m1" and msg.from_ == "+14155550100" and msg.price == "0.0079"
    assert len(seen) == 3 and len(set(seen)) == 1 and seen[0].startswith("sdk-")


async def test_cap_exceeded_is_not_retried_and_carries_the_code() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, headers={"Retry-After": "3600"}, json={"success": False, "error": {
            "code": "CAP_EXCEEDED", "message": "cap", "details": {"cap": "sends_per_day"}}})

    async with AsyncClient("k", "http://api.test", transport=httpx.MockTransport(handler)) as am:
        with pytest.raises(ApiError) as e:
            await am.send_message("+1", "+2", "x")
    assert calls == 1 and e.value.code == "CAP_EXCEEDED" and e.value.details == {"cap": "sends_per_day"}
    assert e.value.retry_after == 3600


def test_the_sync_client_walks_every_page() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        cursor = req.url.params.get("cursor")
        if cursor is None:
            return httpx.Response(200, json={"success": True, "data": [MSG], "meta": {"next_cursor": "c2"}})
        return httpx.Response(200, json={"success": True, "data": [{**MSG, "id": "m2"}], "meta": {"next_cursor": None}})

    with Client("k", "http://api.test", transport=httpx.MockTransport(handler)) as am:
        assert [m.id for m in am.iter_messages()] == ["m1", "m2"]


def test_a_sync_method_is_the_async_one_with_its_arguments() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(f"{req.url.path}?{req.url.query.decode()}")
        data = MSG if req.url.path.endswith("/m1") else [MSG]
        return httpx.Response(200, json={"success": True, "data": data, "meta": {"next_cursor": None}})

    with Client("k", "http://api.test", transport=httpx.MockTransport(handler)) as am:
        assert am.get_message("m1").id == "m1"
        assert [m.id for m in am.list_messages(limit=5, status="queued").data] == ["m1"]
    assert seen == ["/v1/messages/m1?", "/v1/messages?limit=5&status=queued"]


def test_webhook_signatures() -> None:
    body = b'{"id":"x"}'
    sig = hmac.new(b"whsec", b"1000." + body, hashlib.sha256).hexdigest()
    assert verify_signature("whsec", f"t=1000,v1=deadbeef,v1={sig}", body, now=1100)
    assert not verify_signature("whsec", f"t=1000,v1={sig}", body, now=1000 + 301)  # too old
    assert not verify_signature("other", f"t=1000,v1={sig}", body, now=1000)
    assert not verify_signature("whsec", f"t=1000,v1={sig}", body + b" ", now=1000)
