"""The public quickstart, steps 1 to 5 in order, word for word through the gateway and the simulator."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from tests.system import System

PHONE = "+15551234567"  # "your own phone": a simulated handset
NUMBER = "+14155550123"


async def test_quickstart_end_to_end(system: System) -> None:
    # 1. An API key
    data = await system.signup()
    key = data["api_key"]["secret"]
    assert key.startswith("am_live_")

    # 2. Search (a preview), then order
    status, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                        json={"area_code": "415", "quantity": 5})
    assert status == 200 and len(body["data"]) == 5, body
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": [NUMBER]})
    assert status in (200, 201), body
    phone_number_id = body["data"]["phone_numbers"][0]["id"]

    # 3. Text the number from the phone, then fetch it — the exact shape
    status, _, _ = await system.call("POST", "/sim/messages", json={"from": PHONE, "to": NUMBER,
                                                                     "text": "hello agentmessage"})
    assert status == 202

    async def inbound() -> Any:
        st, b, _ = await system.call("GET", "/v1/inbound-messages?limit=5", key=key)
        return b if st == 200 and b["data"] else None

    page = await system.eventually(inbound)
    assert set(page) == {"success", "data", "meta"} and page["meta"] == {"next_cursor": None}
    msg = page["data"][0]
    assert set(msg) == {"id", "from", "to", "body", "channel", "received_at"}
    assert (msg["from"], msg["to"], msg["body"], msg["channel"]) == (PHONE, NUMBER, "hello agentmessage", "sms")
    assert msg["received_at"].endswith("Z")

    # 4. Brand, then campaign, without naming numbers; sending unlocks once the campaign is approved
    status, brand, _ = await system.call("POST", "/v1/brands", key=key, json={
        "entity_type": "PRIVATE_PROFIT", "display_name": "Me", "company_name": "Me Inc", "ein": "12-3456789",
        "email": "me@example.com", "phone": "+14155550199", "website": "https://example.com",
        "vertical": "TECHNOLOGY", "street": "1 Main St", "city": "San Francisco", "state": "CA",
        "postal_code": "94105", "country": "US"})
    assert status == 201, brand
    status, campaign, _ = await system.call("POST", "/v1/campaigns", key=key, json={
        "brand_id": brand["data"]["id"], "use_case": "ACCOUNT_NOTIFICATION",
        "description": "Account notifications for customers of Me Inc about their orders and account.",
        "message_flow": "Customers opt in on our website sign-up form by ticking a consent checkbox, "
                        "then confirm by replying YES.",
        "sample_messages": ["Me Inc: your order shipped. Reply STOP to opt out, HELP for help."],
        "opt_out_keywords": ["STOP"], "opt_out_message": "You are unsubscribed.", "help_keywords": ["HELP"],
        "help_message": "Me Inc: help at me@example.com. Reply STOP to opt out."})
    assert status == 201, campaign

    async def approved() -> bool:
        st, b, _ = await system.call("GET", f"/v1/campaigns/{campaign['data']['id']}", key=key)
        return st == 200 and b["data"]["status"] == "approved"

    await system.eventually(approved)
    # the quickstart does not pin the time of day: keep this test independent of the wall clock
    status, _, _ = await system.call("PATCH", "/v1/compliance/settings", key=key, json={"quiet_hours_enabled": False})
    assert status == 200

    # 5. Without consent: 453 CONSENT_REQUIRED — even though the phone texted first (step 3)
    send = {"from": NUMBER, "to": PHONE, "text": "hello from agentmessage"}
    status, body, _ = await system.call("POST", "/v1/messages", key=key, json=send)
    assert status == 453, body
    assert body["error"]["code"] == "CONSENT_REQUIRED"
    assert "double-opt-in" in body["error"]["message"]

    # double opt-in, from the order's phone_number_id; the phone receives the confirmation text
    confirmation = "Reply YES to confirm you want these messages. Reply STOP to opt out, HELP for help."
    status, body, _ = await system.call("POST", "/v1/consent/double-opt-in", key=key, json={
        "phone_number_id": phone_number_id, "contact_number": PHONE, "confirmation_text": confirmation})
    assert status == 202, body

    async def inbox() -> list[dict[str, Any]]:
        _, b, _ = await system.call("GET", f"/sim/handsets/{PHONE}/messages")
        return list(b["data"])

    await system.eventually(lambda: _has(inbox, confirmation))
    await system.call("POST", "/sim/messages", json={"from": PHONE, "to": NUMBER, "text": "YES"})

    async def consented() -> bool:
        st, b, _ = await system.call("GET", f"/v1/consent/{PHONE}", key=key)
        return st == 200 and b["data"]["status"] == "granted"

    await system.eventually(consented)
    status, body, _ = await system.call("POST", "/v1/messages", key=key, json=send)
    assert status == 202, body
    m = body["data"]
    assert {"id", "from", "to", "text", "status", "created_at"} <= set(m)
    assert (m["from"], m["to"], m["text"], m["status"]) == (NUMBER, PHONE, "hello from agentmessage", "queued")

    async def delivered() -> bool:
        st, b, _ = await system.call("GET", f"/v1/messages/{m['id']}", key=key)
        return st == 200 and b["data"]["status"] == "delivered"

    await system.eventually(delivered)
    received = [x for x in await inbox() if x["text"] == "hello from agentmessage"]
    assert len(received) == 1  # exactly once


async def _has(inbox: Any, text: str) -> bool:
    return any(m["text"] == text for m in await inbox())


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_quickstart() -> str:
    """The shell block of the README's quickstart, exactly as a reader pastes it."""
    text = README.read_text()
    section = text[text.index("## Quickstart against `make run`"):]
    start = section.index("```sh\n") + len("```sh\n")
    return section[start:section.index("```\n", start)]


async def test_the_readme_quickstart_runs_as_pasted(system: System) -> None:
    """The README's block, run by bash against the system (API and SIM pointed at it, as a reader who
    changed the ports would): every step answers as the README says, with the waits it has."""
    script = readme_quickstart()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "API": system.gateway, "SIM": system.sim,
           "HOME": os.environ.get("HOME", "/tmp")}
    proc = await asyncio.create_subprocess_exec("bash", "-c", script, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
    log = out.decode()
    assert proc.returncode == 0, log
    assert "Traceback" not in log and "command not found" not in log, log
    assert '"body":"hello agentmessage"' in log, log
    assert re.search(r"campaign [0-9a-f-]{36}: approved", log), log
    assert '"code":"CONSENT_REQUIRED"' in log, log
    assert '"body":"YES"' in log, log
    assert '"status":"queued"' in log, log
    assert re.search(r"message [0-9a-f-]{36}: delivered", log), log
    assert log.count("\"text\":\"hello from agentmessage\"") == 2, log  # the 202 and the handset's inbox
