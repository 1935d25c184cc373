"""A double opt-in's text goes out because outbound consumes DoubleOptInRequested: compliance never calls
outbound (its NATS user may not), the request's answer is outbound's word on that event (accepted, or
ReplyRefused), and a refusal heard after the answer still ends the double opt-in."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.msg import Msg

from libs.bus.auth import ROLES
from proto.commands.outbound import SendMessage
from proto.subjects import Subjects
from tests.e2e.test_outbound import CONFIRMATION, Org, _inbox_has, handset, onboard, system_with
from tests.system import System


@asynccontextmanager
async def sends_asked(system: System) -> AsyncIterator[list[Msg]]:
    """Every SendMessage command anyone puts on NATS while the block runs."""
    seen: list[Msg] = []

    async def on_msg(msg: Msg) -> None:
        seen.append(msg)

    nc = await nats.connect(system.env["AM_NATS_URL"])  # the session's admin user: it hears every subject
    try:
        await nc.subscribe(Subjects(system.env["AM_SUBJECT_ROOT"]).command(SendMessage.DOMAIN, SendMessage.NAME), cb=on_msg)
        await nc.flush()
        yield seen
    finally:
        await nc.close()


async def request(org: Org, contact: str) -> tuple[int, Any]:
    status, body, _ = await org.call("POST", "/v1/consent/double-opt-in", json={
        "phone_number_id": org.number_id, "contact_number": contact, "confirmation_text": CONFIRMATION})
    return status, body


def test_compliance_may_not_call_outbound() -> None:
    assert "outbound" not in ROLES["compliance"].calls


async def test_the_text_goes_out_on_the_event_and_the_answer_waits_for_it(settings_env: dict[str, str]) -> None:
    async with system_with(settings_env, double_opt_in_wait_s="0.5") as system:
        org = await onboard(system)
        async with sends_asked(system) as seen:
            # outbound up: 202 once it accepted the text, readable at once
            contact = handset()
            status, body = await request(org, contact)
            assert status == 202 and body["data"]["status"] == "pending", body
            status, msg, _ = await org.call("GET", f"/v1/messages/{body['data']['message_id']}")
            assert status == 200 and msg["data"]["kind"] == "opt_in_request", msg
            # outbound down: no word comes, the answer is pending all the same (the event holds the text)
            outbound = system.services["outbound"]
            await outbound.stop()
            later = handset()
            status, body = await request(org, later)
            assert status == 202 and body["data"]["status"] == "pending", body
            mod = importlib.import_module("services.outbound.app")
            env = {**system.env, "AM_HTTP_PORT": str(outbound.port)}
            fresh, setup = mod.build(env)
            await fresh.start(setup)
            system.services["outbound"] = fresh
            await system.eventually(lambda: _inbox_has(org, later, CONFIRMATION), timeout=20)
            assert seen == []  # nobody asked outbound to send it: it consumed the event


async def test_a_refusal_heard_after_the_answer_ends_the_double_opt_in(settings_env: dict[str, str]) -> None:
    """No time to wait (AM_DOUBLE_OPT_IN_WAIT_S=0): the request answers pending; outbound refuses the text
    on the event (the organization cannot pay), records ReplyRefused, and compliance ends the double opt-in."""
    async with system_with(settings_env, price_per_segment_micros="100000000", double_opt_in_wait_s="0") as system:
        org = await onboard(system)
        contact = handset()
        status, body = await request(org, contact)
        assert status == 202 and body["data"]["status"] == "pending", body
        mid = body["data"]["message_id"]

        async def ended() -> bool:
            _, consent, _ = await org.call("GET", f"/v1/consent/{contact}")
            return consent["data"]["pending_double_opt_in"] is None

        await system.eventually(ended, timeout=20)
        rows = await system.services["outbound"].pool.fetch(
            "SELECT event_type, data -> 'error' ->> 'code' AS code FROM events WHERE stream_id = $1",
            f"reply-{mid}")
        assert [(r["event_type"], r["code"]) for r in rows] == [("ReplyRefused", "INSUFFICIENT_CREDIT")]
        status, _, _ = await org.call("GET", f"/v1/messages/{mid}")
        assert status == 404
        rows = await system.services["compliance"].pool.fetch(
            "SELECT data ->> 'reason' AS reason FROM events WHERE event_type = 'DoubleOptInExpired'"
            " AND data ->> 'request_id' = $1", body["data"]["id"])
        assert [r["reason"] for r in rows] == ["send_failed"]
