"""Read-your-consent: once a YES or a STOP is visible to the organization — returned by a wait on its
inbound messages, or listed — it already governs the next send, every time (inbound stores a message
only after compliance has recorded its keyword effect)."""

from __future__ import annotations

import asyncio
from typing import Any

from proto.base import rfc3339, utcnow
from services.compliance.app import build as build_compliance
from tests.e2e import data
from tests.e2e.test_outbound import Org, handset, onboard
from tests.system import System, running_system

ROUNDS = 20


async def wait_for_text(org: Org, contact: str, since: str) -> list[dict[str, Any]]:
    """The long poll an agent uses: answers as soon as the contact's message is visible."""
    status, body, _ = await org.call("GET", "/v1/inbound-messages",
                                     params={"wait": "30", "from": contact, "since": since})
    assert status == 200, body
    return list(body["data"])


async def text(system: System, org: Org, contact: str, body: str) -> None:
    status, got, _ = await system.call("POST", "/sim/messages", json={"from": contact, "to": org.number,
                                                                       "text": body})
    assert status == 202, got


async def test_a_send_the_moment_a_yes_shows_up_in_a_wait_is_accepted_every_time(system: System) -> None:
    org = await onboard(system)
    for i in range(ROUNDS):
        contact = handset()
        status, body, _ = await org.call("POST", "/v1/consent/double-opt-in", json={
            "phone_number_id": org.number_id, "contact_number": contact, "confirmation_text": data.CONFIRMATION})
        assert status == 202, body
        since = rfc3339(utcnow())
        waiting = asyncio.create_task(wait_for_text(org, contact, since))
        await text(system, org, contact, "YES")
        got = await waiting
        assert [m["body"] for m in got] == ["YES"], got
        # when: the agent sends the moment it sees the YES
        status, body = await org.send(contact, text=f"thanks {i}")
        # then: accepted, every time
        assert status == 202, (i, body)


async def test_a_send_the_moment_a_stop_is_listed_is_refused_every_time(system: System) -> None:
    org = await onboard(system)
    for i in range(ROUNDS):
        contact = await org.new_contact()
        status, body = await org.send(contact, text="before")
        assert status == 202, body
        since = rfc3339(utcnow())
        if i % 2 == 0:  # half through the wait, half by polling the listing
            waiting = asyncio.create_task(wait_for_text(org, contact, since))
            await text(system, org, contact, "STOP")
            got = await waiting
        else:
            await text(system, org, contact, "STOP")

            async def listed(contact: str = contact) -> list[dict[str, Any]] | None:
                _, page, _ = await org.call("GET", "/v1/inbound-messages", params={"from": contact})
                return list(page["data"]) or None

            got = await system.eventually(listed, interval=0.005)
        assert [m["body"] for m in got] == ["STOP"], got
        status, body = await org.send(contact, text=f"after stop {i}")
        assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", (i, status, body)


async def test_while_compliance_is_down_a_text_waits_at_the_carrier_and_arrives_once_after(
        settings_env: dict[str, str]) -> None:
    """A message is never visible before compliance has recorded it: while compliance is down the
    carrier's callback is answered 503 and retried; once compliance is back the STOP is stored once and
    already refuses the next send."""
    async with running_system(settings_env) as system:
        org = await onboard(system)
        contact = await org.new_contact()
        old = system.services["compliance"]
        await old.stop()
        await text(system, org, contact, "STOP")
        await asyncio.sleep(1.0)  # (the carrier has tried by now: nothing may be visible)
        _, page, _ = await org.call("GET", "/v1/inbound-messages", params={"from": contact})
        assert page["data"] == [], page
        fresh, setup = build_compliance({**system.env, "AM_HTTP_PORT": str(old.port)})
        await fresh.start(setup)
        system.services["compliance"] = fresh  # (stopped with the system)
        got = await wait_for_text(org, contact, "2000-01-01T00:00:00Z")
        assert [m["body"] for m in got] == ["STOP"], got
        status, body = await org.send(contact, text="still there?")
        assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", body
        await asyncio.sleep(0.5)
        _, page, _ = await org.call("GET", "/v1/inbound-messages", params={"from": contact})
        assert [m["body"] for m in page["data"]] == ["STOP"], page  # stored once
