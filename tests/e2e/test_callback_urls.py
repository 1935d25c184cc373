"""The one callback URL rule, end to end in production mode (AM_ENV=prod): every callback field refuses
hostile URLs when saved, and a name that rebinds to a private address after it was saved is refused at
delivery — the receiver behind that address is never contacted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from libs.testing.dns import fake_dns
from tests.e2e.data import BRAND, CAMPAIGN
from tests.e2e.test_inbound import SHORT_RETRIES, Receiver, inbox, provision, text
from tests.system import System, running_system

HOSTILE = [
    "https://100.100.100.200/latest", "https://100.64.0.1/", "https://[2002:a9fe:a9fe::]/",
    "https://169.254.169.254/latest/meta-data/", "https://[::ffff:169.254.169.254]/", "https://2130706433/",
    "https://10.0.0.1/", "https://user:pw@hooks.example.com/", "http://hooks.example.com/",
    "https://private.example.com/", "https://localhost/", "https://[fd00:ec2::254]/",
]


@pytest.fixture
def dns() -> Iterator[dict[str, list[str]]]:
    """Host → addresses; ``dns["rebind:<host>"] = [...]`` makes later lookups of <host> answer those."""
    with fake_dns({"hooks.example.com": ["93.184.216.34"], "private.example.com": ["10.1.2.3"]}) as table:
        yield table


@pytest.fixture
async def prod(settings_env: dict[str, str], dns: dict[str, list[str]]) -> AsyncIterator[System]:
    async with running_system({**settings_env, "AM_ENV": "prod"}, SHORT_RETRIES) as s:
        yield s


async def test_every_callback_field_refuses_hostile_urls(prod: System) -> None:
    key = (await prod.signup())["api_key"]["secret"]
    number = await provision(prod, key)
    status, brand, _ = await prod.call("POST", "/v1/brands", key=key, json=BRAND)
    assert status == 201, brand

    async def refused(method: str, path: str, body: dict[str, Any], field: str) -> None:
        status, res, _ = await prod.call(method, path, key=key, json=body)
        assert status == 400, (path, body, res)
        assert res["error"]["code"] == "VALIDATION_ERROR" and res["error"]["details"]["field"] == field, res

    for url in HOSTILE:
        await refused("PATCH", f"/v1/phone-numbers/{number['id']}", {"inbound_url": url}, "inbound_url")
        await refused("PATCH", f"/v1/phone-numbers/{number['id']}", {"status_callback_url": url},
                      "status_callback_url")
        await refused("POST", "/v1/campaigns", {
            "brand_id": brand["data"]["id"], "use_case": "ACCOUNT_NOTIFICATION",
            "description": "Account alerts for Acme Agents customers: order updates and password resets.",
            "message_flow": "Customers opt in by ticking a checkbox on the signup form at acme.example/signup.",
            "sample_messages": ["Acme: your order 1234 has shipped. Reply STOP to opt out, HELP for help."],
            "status_callback_url": url}, "status_callback_url")
        await refused("POST", "/v1/messages", {"from": number["e164"], "to": "+14155550123", "text": "hi",
                                               "status_callback_url": url}, "status_callback_url")
    # the same forms pass when they name a public address
    status, res, _ = await prod.call("PATCH", f"/v1/phone-numbers/{number['id']}", key=key,
                                     json={"inbound_url": "https://hooks.example.com/sms",
                                           "status_callback_url": "https://93.184.216.34/cb"})
    assert status == 200, res


async def test_a_name_rebound_to_a_private_address_is_refused_at_delivery(
        prod: System, dns: dict[str, list[str]]) -> None:
    async with Receiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        key = (await prod.signup())["api_key"]["secret"]
        dns["rebind:hooks.example.com"] = ["127.0.0.1"]  # public when saved, the receiver's address after
        number = await provision(prod, key, f"https://hooks.example.com:{port}/hook")
        await text(prod, number["e164"], "rebind me")
        [msg] = await prod.eventually(lambda: inbox(prod, key))

        async def attempted() -> Any:
            _, d, _ = await prod.call("GET", f"/v1/inbound-messages/{msg['id']}/deliveries", key=key)
            return d["data"]["attempts"] or None

        attempts = await prod.eventually(attempted, timeout=10)
        assert "refused by the callback URL rule" in attempts[0]["error"], attempts
        assert "127.0.0.1" in attempts[0]["error"] and attempts[0]["status_code"] is None
        await asyncio.sleep(0)
        assert receiver.calls == [] and receiver.arrived == 0


async def test_a_campaign_callback_to_a_rebound_name_is_refused_at_delivery(
        prod: System, dns: dict[str, list[str]]) -> None:
    async with Receiver() as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        key = (await prod.signup())["api_key"]["secret"]
        status, brand, _ = await prod.call("POST", "/v1/brands", key=key, json=BRAND)
        assert status == 201, brand
        dns["rebind:hooks.example.com"] = ["127.0.0.1"]  # public when saved, the receiver's address after
        status, camp, _ = await prod.call("POST", "/v1/campaigns", key=key, json={
            **CAMPAIGN, "brand_id": brand["data"]["id"], "status_callback_url": f"https://hooks.example.com:{port}/hook"})
        assert status == 201, camp
        pool = prod.services["numbers"].pool

        async def refused() -> Any:
            rows = await pool.fetch("SELECT last_error FROM campaign_callbacks WHERE campaign_id = $1",
                                    camp["data"]["id"])
            return rows if rows and all(r["last_error"] for r in rows) else None

        rows = await prod.eventually(refused, timeout=15)
        assert all("refused by the callback URL rule" in r["last_error"] for r in rows), rows
        assert receiver.calls == [] and receiver.arrived == 0
