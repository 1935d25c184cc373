"""Agents first, end to end against the real stack: the MCP server with the official MCP SDK's client
over Streamable HTTP (the gateway's /mcp) and stdio (``amctl mcp``), one-time codes, conversations."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.e2e.test_outbound import CONFIRMATION, Org, handset, onboard
from tests.system import System

TOOLS = {"send_message", "check_send", "wait_for_reply", "list_conversations", "get_conversation", "get_message",
         "list_numbers", "request_consent", "get_consent", "wait_for_code"}


@asynccontextmanager
async def mcp_http(system: System, key: str, mode: str = "auto") -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, Client(streamable_http_client(f"{system.gateway}/mcp", http_client=http),
                            mode=mode) as client:  # type: ignore[arg-type]
        yield client


@asynccontextmanager
async def mcp_stdio(system: System, key: str) -> AsyncIterator[Client]:
    env = {**os.environ, "AM_API_URL": system.gateway, "AGENTMESSAGE_API_KEY": key}
    params = StdioServerParameters(command=sys.executable, args=["-m", "services.amctl", "mcp"], env=env,
                                   cwd=os.getcwd())
    async with Client(params) as client:
        yield client


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    res = await client.call_tool(tool, args)
    assert not res.is_error, res.content
    assert res.structured_content is not None
    return dict(res.structured_content)


async def error_of(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    res = await client.call_tool(tool, args)
    assert res.is_error, res
    text = res.content[0].text  # type: ignore[union-attr]
    return dict(json.loads(text)["error"])


async def text_from(system: System, sender: str, to: str, text: str) -> None:
    status, body, _ = await system.call("POST", "/sim/messages", json={"from": sender, "to": to, "text": text})
    assert status == 202, body


async def text_stored(org: Org, sender: str, text: str) -> None:
    """Text the org's number and wait until it is stored: texts sent one after another may otherwise
    arrive in another order (the carrier delivers them concurrently)."""
    await text_from(org.system, sender, org.number, text)

    async def stored() -> bool:
        _, page, _ = await org.call("GET", "/v1/inbound-messages?limit=5&from=" + sender.replace("+", "%2B"))
        return any(m["body"] == text for m in page["data"])

    await org.system.eventually(stored, timeout=10)


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_the_quickstart_through_mcp_tools(system: System, transport: str) -> None:
    org = await onboard(system)
    contact = handset()
    connect = mcp_http if transport == "http" else mcp_stdio
    async with connect(system, org.key) as mcp:
        tools = {t.name: t for t in (await mcp.list_tools()).tools}
        assert TOOLS <= set(tools)
        for t in tools.values():
            assert t.description and t.input_schema["type"] == "object"
        assert "to" in tools["send_message"].input_schema["properties"]
        numbers = await call(mcp, "list_numbers")
        assert [n["phone_number"] for n in numbers["numbers"]] == [org.number]
        # without consent: not sent, the verdict and what to do
        refused = await call(mcp, "send_message", from_number=org.number, to=contact, text="hello from agentmessage")
        assert refused["sent"] is False and refused["verdict"]["code"] == "CONSENT_REQUIRED"
        assert "request_consent" in refused["what_to_do"]
        assert (await call(mcp, "get_consent", contact=contact))["status"] == "none"
        opt_in = await call(mcp, "request_consent", contact=contact, phone_number_id=org.number_id,
                            confirmation_text=CONFIRMATION)
        assert opt_in["status"] == "pending"
        await system.eventually(lambda: _inbox_has(org, contact, CONFIRMATION))
        await text_from(system, contact, org.number, "YES")
        reply = await call(mcp, "wait_for_reply", contact=contact, timeout_seconds=20)
        assert reply["received"] and reply["message"]["body"] == "YES"

        async def consented() -> bool:
            return (await call(mcp, "get_consent", contact=contact))["status"] == "granted"

        await system.eventually(consented, timeout=10, interval=0.2)
        sent = await call(mcp, "send_message", from_number=org.number, to=contact, text="hello from agentmessage")
        assert sent["sent"] is True and sent["message"]["status"] in ("queued", "scheduled"), sent

        async def delivered() -> bool:
            got = await call(mcp, "get_message", message_id=sent["message"]["id"])
            return got["status"] == "delivered"

        await system.eventually(delivered, timeout=15, interval=0.2)
        # the simulator's handset answers; wait_for_reply returns it
        await text_from(system, contact, org.number, "thanks, got it")
        reply = await call(mcp, "wait_for_reply", contact=contact, timeout_seconds=20,
                           after_message_id=reply["message"]["id"])
        assert reply["received"] and reply["message"]["body"] == "thanks, got it"
        # conversations, as tools and as resources

        async def listed() -> Any:
            return (await call(mcp, "list_conversations", contact=contact))["conversations"]

        convs = await system.eventually(listed, timeout=10, interval=0.2)
        assert len(convs) == 1 and convs[0]["contact_number"] == contact
        assert convs[0]["consent_status"] == "granted"

        async def caught_up() -> Any:  # the read model follows the events: it may lag a moment
            conv = await call(mcp, "get_conversation", conversation_id=convs[0]["id"])
            bodies = [(m["direction"], m["text"]) for m in conv["messages"]]
            return bodies if bodies and bodies[-1] == ("inbound", "thanks, got it") else None

        bodies = await system.eventually(caught_up, timeout=10, interval=0.2)
        assert ("outbound", "hello from agentmessage") in bodies
        res = await mcp.read_resource(f"conversation://{convs[0]['id']}")
        assert json.loads(res.contents[0].text)["conversation"]["id"] == convs[0]["id"]  # type: ignore[union-attr]


async def _inbox_has(org: Org, contact: str, text: str) -> bool:
    return text in await org.inbox(contact)


async def test_wait_for_code_returns_a_code_texted_to_the_number(system: System) -> None:
    org = await onboard(system)
    service = handset()
    await text_from(system, service, org.number, "hello, no code here")
    async with mcp_http(system, org.key) as mcp:
        nothing = await call(mcp, "wait_for_code", to_number=org.number, timeout_seconds=1, lookback_seconds=0)
        assert nothing == {"received": False, "code": None, "message": None}
        import asyncio

        waiting = asyncio.create_task(call(mcp, "wait_for_code", to_number=org.number, from_sender=service,
                                           timeout_seconds=30))
        await text_from(system, handset(), org.number, "Your code is 1111")  # another sender: not this one
        await text_from(system, service, org.number, "just saying hi")  # no code
        await text_from(system, service, org.number, "G-482913 is your Acme verification code.")
        got = await waiting
        assert got["received"] and got["code"] == "482913", got
        assert got["message"]["otp"] == "482913" and got["message"]["from"] == service
        # a code that came before the call counts (the sign-in texted it while the agent was busy) ...
        again = await call(mcp, "wait_for_code", to_number=org.number, from_sender=service, timeout_seconds=5)
        assert again["code"] == "482913"
        # ... unless it was used: after it, the next one
        later = asyncio.create_task(call(mcp, "wait_for_code", to_number=org.number, from_sender=service,
                                         timeout_seconds=30, after_message_id=got["message"]["id"]))
        await text_from(system, service, org.number, "Tu código es 5678")
        assert (await later)["code"] == "5678"
    # the API too: otp on every inbound message, and otp=true lists only codes
    _, page, _ = await org.call("GET", f"/v1/inbound-messages?otp=true&to={org.number}")
    assert sorted(m["otp"] for m in page["data"]) == ["1111", "482913", "5678"]


async def test_codes_from_a_short_code_or_a_sender_id_are_found_and_filtered_by_sender(system: System) -> None:
    """Sign-in codes come from short codes and alphanumeric sender ids, not handsets: each is stored as it
    came, found by wait_for_code with that sender, and the API filters by it (inbound and conversations)."""
    org = await onboard(system)
    async with mcp_http(system, org.key) as mcp:
        import asyncio

        waiting = asyncio.create_task(call(mcp, "wait_for_code", to_number=org.number, from_sender="22395",
                                           timeout_seconds=30))
        await text_from(system, "ACME Bank", org.number, "ACME Bank: 551902 is your one-time code")
        await text_from(system, "22395", org.number, "G-482913 is your Google verification code.")
        got = await waiting
        assert got["code"] == "482913" and got["message"]["from"] == "22395", got
        named = await call(mcp, "wait_for_code", to_number=org.number, from_sender="ACME Bank", timeout_seconds=5)
        assert named["code"] == "551902", named
    status, page, _ = await org.call("GET", "/v1/inbound-messages", params={"from": "ACME Bank"})
    assert status == 200 and [m["body"] for m in page["data"]] == ["ACME Bank: 551902 is your one-time code"], page

    async def both() -> bool:  # the conversations read model is built by a consumer: a moment later
        status, page, _ = await org.call("GET", "/v1/conversations")  # (all of them: a sender id among them)
        assert status == 200, page
        return {c["contact_number"] for c in page["data"]} >= {"22395", "ACME Bank"}

    await system.eventually(both, timeout=10)
    status, page, _ = await org.call("GET", "/v1/conversations", params={"contact_number": "22395"})
    assert status == 200 and [(c["contact_number"], c["consent_status"]) for c in page["data"]] == [
        ("22395", "none")], page
    status, body, _ = await org.call("GET", "/v1/inbound-messages", params={"from": "not a sender!"})
    assert status == 400 and body["error"]["details"]["field"] == "from", body


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_keys_scopes_and_caps_apply_to_tools(system: System, transport: str) -> None:
    mcp_http = _connector(transport)
    org = await onboard(system)
    allowed, other = handset(), handset()
    await org.consent(allowed)
    await org.consent(other)
    status, body, _ = await org.call("POST", "/v1/api-keys", json={"name": "agent", "preset": "send-only",
                                                                   "caps": {"sends_per_day": 3}})
    assert status == 201, body
    async with mcp_http(system, body["data"]["secret"]) as mcp:
        for _ in range(3):
            sent = await call(mcp, "send_message", from_number=org.number, to=allowed, text="hi")
            assert sent["sent"], sent
        err = await error_of(mcp, "send_message", from_number=org.number, to=allowed, text="hi")
        assert err["code"] == "CAP_EXCEEDED" and err["details"]["cap"] == "sends_per_day", err
        assert re.fullmatch("[0-9a-f]{32}", err["request_id"]), err  # the id to quote about it
        err = await error_of(mcp, "request_consent", contact=other, phone_number_id=org.number_id,
                             confirmation_text=CONFIRMATION)
        assert err["code"] == "SCOPE_REQUIRED" and err["details"]["scope"] == "compliance:write"
    status, body, _ = await org.call("POST", "/v1/api-keys", json={"name": "reader", "preset": "read-only"})
    async with mcp_http(system, body["data"]["secret"]) as mcp:
        err = await error_of(mcp, "send_message", from_number=org.number, to=allowed, text="hi")
        assert err["code"] == "SCOPE_REQUIRED" and err["details"]["scope"] == "messages:send"
        assert (await call(mcp, "list_numbers"))["numbers"]
    status, body, _ = await org.call("POST", "/v1/api-keys", json={"name": "one", "caps": {
        "allowed_recipients": [allowed]}})
    async with mcp_http(system, body["data"]["secret"]) as mcp:
        err = await error_of(mcp, "send_message", from_number=org.number, to=other, text="hi")
        assert err["code"] == "RECIPIENT_NOT_ALLOWED"
        assert (await call(mcp, "send_message", from_number=org.number, to=allowed, text="hi"))["sent"]


def _connector(transport: str) -> Any:
    return mcp_http if transport == "http" else mcp_stdio


async def test_both_protocol_eras_are_served(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    async with mcp_http(system, key) as modern:
        assert modern.session.protocol_version == "2026-07-28"
        assert TOOLS <= {t.name for t in (await modern.list_tools()).tools}
    async with mcp_http(system, key, mode="legacy") as legacy:
        assert legacy.session.protocol_version != "2026-07-28"
        assert TOOLS <= {t.name for t in (await legacy.list_tools()).tools}


async def test_a_malformed_argument_is_named_as_the_tool_calls_it(system: System) -> None:
    """An API error names the request's field (from, to, contact_number); the tool error names the tool's
    argument, so a model fixes the one it passed (wait_for_reply's bad contact is not its to_number)."""
    org = await onboard(system)
    async with mcp_http(system, org.key) as mcp:
        for tool, args, arg in (
                ("send_message", {"from_number": "+1", "to": "+15551234567", "text": "hi"}, "from_number"),
                ("check_send", {"from_number": "+1", "to": "+15551234567", "text": "hi"}, "from_number"),
                ("wait_for_reply", {"contact": "bogus", "timeout_seconds": 1}, "contact"),
                ("wait_for_reply", {"contact": "+15551234567", "to_number": "x", "timeout_seconds": 1}, "to_number"),
                ("wait_for_code", {"to_number": "x", "timeout_seconds": 1}, "to_number"),
                ("get_consent", {"contact": "bogus"}, "contact"),
                ("list_conversations", {"contact": "not a sender!"}, "contact")):
            err = await error_of(mcp, tool, **args)
            assert err["details"].get("field") == arg and err["message"].startswith(f"{arg}:"), (tool, err)


async def test_mcp_needs_a_valid_key(system: System) -> None:
    async with httpx2.AsyncClient() as http:
        r = await http.post(f"{system.gateway}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"Authorization": f"Bearer am_live_{uuid.uuid4().hex}x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_conversations_are_built_from_both_directions(system: System) -> None:
    org = await onboard(system)
    contact, other = handset(), handset()
    await org.consent(contact)
    status, body = await org.send(contact, "first from us")
    assert status == 202, body
    await text_stored(org, contact, "reply one")
    await text_stored(org, contact, "Your code is 4417")
    await text_stored(org, other, "a stranger writes")

    async def listed() -> Any:
        _, page, _ = await org.call("GET", "/v1/conversations")
        by_contact = {c["contact_number"]: c for c in page["data"]}
        ok = contact in by_contact and other in by_contact and by_contact[contact]["message_count"] == 3
        return page if ok else None

    page = await system.eventually(listed, timeout=10)
    assert [c["contact_number"] for c in page["data"]] == [other, contact]  # most recent first
    conv = next(c for c in page["data"] if c["contact_number"] == contact)
    assert conv["phone_number"] == org.number and conv["unread_count"] == 2
    assert conv["consent_status"] == "granted"
    assert conv["last_message"]["text"] == "Your code is 4417" and conv["last_message"]["otp"] == "4417"
    stranger = next(c for c in page["data"] if c["contact_number"] == other)
    assert stranger["consent_status"] == "none" and stranger["unread_count"] == 1
    # both directions, newest first, by cursor
    _, first, _ = await org.call("GET", f"/v1/conversations/{conv['id']}/messages?limit=2")
    assert [(m["direction"], m["text"]) for m in first["data"]] == [
        ("inbound", "Your code is 4417"), ("inbound", "reply one")]
    _, rest, _ = await org.call("GET", f"/v1/conversations/{conv['id']}/messages?limit=2&cursor="
                                + first["meta"]["next_cursor"])
    assert [(m["direction"], m["text"]) for m in rest["data"]] == [("outbound", "first from us")]
    assert rest["data"][0]["status"] in ("queued", "sending", "sent", "delivered")
    assert rest["meta"]["next_cursor"] is None
    # reading marked it read; the filter finds it; another organization cannot see it
    status, got, _ = await org.call("GET", f"/v1/conversations/{conv['id']}")
    assert status == 200 and got["data"]["unread_count"] == 0
    _, filtered, _ = await org.call("GET", f"/v1/conversations?contact_number={other}")
    assert [c["contact_number"] for c in filtered["data"]] == [other]
    intruder = (await system.signup())["api_key"]["secret"]
    status, got, _ = await system.call("GET", f"/v1/conversations/{conv['id']}", key=intruder)
    assert status == 404 and got["error"]["code"] == "NOT_FOUND"
    # the outbound message's status follows its events
    async def delivered() -> bool:
        _, page, _ = await org.call("GET", f"/v1/conversations/{conv['id']}/messages?limit=5")
        return any(m["status"] == "delivered" for m in page["data"])

    await system.eventually(delivered, timeout=15)


async def test_the_conversations_bulk_path_matches_the_one_by_one_path(system: System) -> None:
    """Consumers take fetched batches in bulk (absorb); each path alone gives the same model."""
    from proto.base import Event, new_id
    from proto.commands import inbound as c
    from proto.events.inbound import InboundMessageReceived
    from proto.events.outbound import MessageDelivered, MessageFacts, MessageQueued
    from services.inbound.conversations import Conversations

    model = Conversations(system.services["inbound"].store)
    number, contact = "+14155550100", handset()

    def facts(text: str, kind: str = "standard") -> MessageFacts:
        return MessageFacts(from_=number, to=contact, text=text, segments=1, encoding="GSM-7", price_micros=7900,
                            kind=kind)

    async def build(bulk: bool) -> tuple[c.ConversationView, list[tuple[str, str, str | None]]]:
        org = str(uuid.uuid4())
        m1, m2, i1, i2 = new_id(), new_id(), new_id(), new_id()
        outbound = [MessageQueued(org_id=org, message_id=m1, facts=facts("one")),
                    MessageQueued(org_id=org, message_id=m2, facts=facts("two")),
                    MessageDelivered(org_id=org, message_id=m1)]
        inbound = [InboundMessageReceived(org_id=org, message_id=i, carrier_message_id=i, phone_number_id=new_id(),
                                          from_=contact, to=number, body=body, received_at=at)
                   for i, body, at in ((i1, "Your code is 9911", datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)),
                                       (i2, "ok", datetime(2030, 1, 1, 0, 0, 2, tzinfo=UTC)))]
        # an automatic reply (a keyword's) after the contact's texts does not answer them: unread stays
        auto = [MessageQueued(org_id=org, message_id=new_id(), facts=facts("Acme: help at acme.example", "help_reply"))]
        # later: a status of a message already there, and an answer (unread starts again) the contact replies to
        later = [MessageDelivered(org_id=org, message_id=m2),
                 MessageQueued(org_id=org, message_id=new_id(), facts=facts("three"))]
        reply = [InboundMessageReceived(org_id=org, message_id=i3, carrier_message_id=i3, phone_number_id=new_id(),
                                        from_=contact, to=number, body="thanks",
                                        received_at=datetime(2030, 1, 1, 0, 0, 3, tzinfo=UTC)) for i3 in [new_id()]]
        rounds: list[list[tuple[list[Event], bool]]] = [
            [(list(outbound), False), (list(inbound), True), (list(auto), False)],
            [(list(later), False), (list(reply), True)]]
        for batches in rounds:
            for _ in range(2):  # a redelivered batch changes nothing
                for batch, inbound_batch in batches:
                    if bulk:
                        absorb = model.absorb_inbound if inbound_batch else model.absorb_outbound
                        assert await absorb(batch) == {e.event_id for e in batch}
                    else:
                        for ev in batch:
                            await (model.on_inbound(ev) if inbound_batch else model.on_outbound(ev))
        [conv] = (await model.list(c.ListConversations(org_id=org))).data
        msgs = (await model.messages(c.ListConversationMessages(org_id=org, conversation_id=conv.id))).data
        return conv, [(m.direction, m.text, m.status) for m in msgs]

    (bulk_conv, bulk_msgs), (one_conv, one_msgs) = await build(True), await build(False)
    assert bulk_msgs == one_msgs == [("inbound", "thanks", None), ("inbound", "ok", None),
                                     ("inbound", "Your code is 9911", None), ("outbound", "three", "queued"),
                                     ("outbound", "Acme: help at acme.example", "queued"),
                                     ("outbound", "two", "delivered"), ("outbound", "one", "delivered")]
    for conv in (bulk_conv, one_conv):
        assert (conv.message_count, conv.unread_count, conv.contact_number) == (7, 1, contact)
        assert conv.last_message is not None and conv.last_message.text == "thanks"
