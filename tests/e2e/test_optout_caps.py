"""Opt-outs in plain words and in Spanish, a campaign's own keywords, frequency caps and a double opt-in
under quiet hours, end to end: simulated handsets text the organization's number, the API sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats

from libs.bus.rpc import RpcClient
from proto.base import new_id, utcnow
from proto.commands.compliance import ScreenInbound
from proto.events.inbound import InboundMessageReceived
from proto.subjects import Subjects
from services.compliance import quiet_hours as qh
from tests.e2e.test_compliance import (
    CAMPAIGN,
    Org,
    check_of,
    inbox,
    sender_org,
    text_from,
    wait_inbox,
    wait_status,
)
from tests.system import System

FLORIDA = "+13055550142"  # Miami: FL law allows 3 marketing messages per 24 h


async def record_consent(org: Org, contact: str) -> None:
    status, body = await org.call("POST", "/v1/consent", {
        "contact_number": contact, "method": "web_form",
        "evidence": {"disclosure_text": "Deals from Acme by text, up to 3 a day. Reply STOP to end."}})
    assert status == 201, body


async def test_a_fourth_marketing_text_to_florida_within_a_day_is_refused(system: System) -> None:
    org = await sender_org(system)
    await org.quiet_hours_off()
    await record_consent(org, FLORIDA)
    for i in range(3):
        status, body = await org.send(to=FLORIDA, text=f"deal {i}", category="marketing")
        assert status == 202, body
    status, body = await org.send(to=FLORIDA, text="deal 3", category="marketing")
    assert status == 453 and body["error"]["code"] == "FREQUENCY_CAP", body
    next_at = datetime.fromisoformat(body["error"]["details"]["next_allowed_at"].replace("Z", "+00:00"))
    assert utcnow() + timedelta(hours=23) < next_at <= utcnow() + timedelta(hours=24)
    # the dry run explains it, and does not count
    req = {"from": org.number, "to": FLORIDA, "text": "deal 3", "category": "marketing"}
    status, body = await org.call("POST", "/v1/compliance/check", req)
    assert status == 200 and body["data"]["decision"] == "deny", body
    cap = check_of(body["data"], "frequency_cap")
    assert cap["result"] == "fail" and "3 of 3 marketing messages per 24 h (FL law)" in cap["detail"], cap
    # other categories are not capped; a send may ask to be deferred to when the cap allows it
    status, body = await org.send(to=FLORIDA, text="your order shipped", category="conversational")
    assert status == 202, body
    # its final check, when it goes to the carrier, is over before the organization adds its cap: a message
    # that passes the gate after the cap applies counts under it
    shipped = body["data"]["id"]

    async def past_the_gate() -> bool:
        status, body = await org.call("GET", f"/v1/messages/{shipped}")
        return status == 200 and body["data"]["status"] in ("sent", "delivered")

    await org.system.eventually(past_the_gate)
    status, body = await org.send(to=FLORIDA, text="deal 3", category="marketing", on_frequency_cap="defer")
    assert status == 202 and body["data"]["status"] == "scheduled", body
    # an organization caps any category itself
    status, body = await org.call("PATCH", "/v1/compliance/settings", {
        "frequency_caps": [{"category": "conversational", "max": 1, "window_hours": 1}]})
    assert status == 200 and body["data"]["frequency_caps"] == [
        {"category": "conversational", "max": 1, "window_hours": 1}], body
    status, body = await org.send(to=FLORIDA, text="an update", category="conversational")
    assert status == 202, body  # counted from when the cap applies
    status, body = await org.send(to=FLORIDA, text="another update", category="conversational")
    assert status == 453 and body["error"]["code"] == "FREQUENCY_CAP", body
    status, body = await org.call("PATCH", "/v1/compliance/settings", {
        "frequency_caps": [{"category": "conversational", "max": 0, "window_hours": 1}]})
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body


async def test_concurrent_marketing_sends_never_pass_the_cap(system: System) -> None:
    import asyncio

    org = await sender_org(system)
    await org.quiet_hours_off()
    contact = "+14105550177"  # Baltimore: MD allows 3 marketing messages per 24 h
    await record_consent(org, contact)
    results = await asyncio.gather(*(org.send(to=contact, text=f"flash sale {i}", category="marketing")
                                     for i in range(8)))
    codes = sorted(status for status, _ in results)
    assert codes == [202] * 3 + [453] * 5, results


SPANISH = "+15551230001"


async def test_spanish_and_plain_language_opt_outs_are_honoured_in_the_contacts_language(system: System) -> None:
    org = await sender_org(system)
    await org.quiet_hours_off()
    await record_consent(org, SPANISH)
    await text_from(system, org, "No me envíen más mensajes, por favor", handset=SPANISH)
    view = await wait_status(org, "opted_out", SPANISH)
    assert view["opt_out_source"] == "plain_language" and view["opt_out_rule"] == "no_me_envien", view
    got = await wait_inbox(system, 1, SPANISH)
    assert "se ha dado de baja" in got[0]["text"], got
    status, body = await org.send(to=SPANISH, text="hola")
    assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", body
    # a hard negative does nothing; a complaint does
    other = "+15551230002"
    await record_consent(org, other)
    await text_from(system, org, "I'll stop by the store at 5", handset=other)
    await text_from(system, org, "who is this? stop", handset=other)
    view = await wait_status(org, "opted_out", other)
    assert view["opt_out_rule"] == "stop_clause", view
    got = await wait_inbox(system, 1, other)
    assert "unsubscribed" in got[0]["text"]


async def test_a_campaigns_own_opt_out_help_and_opt_in_keywords_are_honoured(system: System) -> None:
    campaign: dict[str, Any] = {**CAMPAIGN, "opt_out_keywords": ["STOP", "ARRET"], "help_keywords": ["HELP", "AIDE"],
                                "opt_out_message": "Acme: you will get no more texts from us (ARRET).",
                                "help_message": "Acme help (AIDE): acme.example/help. Reply ARRET to opt out.",
                                "opt_in_keywords": ["JOIN"], "opt_in_message": "Acme: welcome back (JOIN)."}
    org = await sender_org(system, campaign=campaign)
    await org.quiet_hours_off()
    contact = "+15551230003"
    await record_consent(org, contact)

    async def learned() -> bool:  # compliance learns the campaign from numbers' events
        if any(m["text"].startswith("Acme help (AIDE)") for m in await inbox(system, contact)):
            return True
        await text_from(system, org, "aide", handset=contact)
        return False

    await system.eventually(learned)
    await text_from(system, org, "Arrêt", handset=contact)
    view = await wait_status(org, "opted_out", contact)
    assert view["opt_out_source"] == "campaign_keyword" and view["opt_out_rule"] == "ARRET", view

    async def confirmed() -> bool:
        return any(m["text"] == "Acme: you will get no more texts from us (ARRET)." for m in await inbox(system, contact))

    await system.eventually(confirmed)
    # the campaign's own opt-in keyword opts the contact back in, answered with the campaign's opt-in message
    await text_from(system, org, "Join", handset=contact)
    view = await wait_status(org, "granted", contact)
    assert view["consent"]["method"] == "keyword", view

    async def welcomed() -> bool:
        return any(m["text"] == "Acme: welcome back (JOIN)." for m in await inbox(system, contact))

    await system.eventually(welcomed)
    # a campaign may not give a keyword every program shares another meaning
    _, brands = await org.call("GET", "/v1/brands")
    status, body = await org.call("POST", "/v1/campaigns", {**CAMPAIGN, "brand_id": brands["data"][0]["id"],
                                                            "help_keywords": ["STOP"]})
    assert status == 400 and body["error"]["details"]["field"] == "help_keywords.0", body


CLOSED_CANDIDATES = ["+18085550123", "+16715550123", "+19075550123", "+14155550123", "+12125550123", "+14015550123",
                     "+442071234567", "+61212345678", "+81312345678", "+911123456789", "+551123456789"]
"""Zones around the world: at any time of the year at least three are outside their hours for minutes."""


async def test_a_double_opt_in_confirmation_waits_for_the_recipients_hours_or_is_refused(system: System) -> None:
    now = utcnow()
    closed = [n for n in CLOSED_CANDIDATES
              if not any(qh.is_open(qh.area_of(n), now + timedelta(minutes=m)) for m in (0, 2, 4))]
    assert len(closed) >= 2, "no two candidates outside their hours now: add zones"
    org = await sender_org(system)
    doi = {"phone_number_id": org.number_id, "confirmation_text": "Reply YES to get Acme texts. STOP to end."}
    status, body = await org.call("POST", "/v1/consent/double-opt-in", {**doi, "contact_number": closed[0]})
    assert status == 202, body
    send_at = datetime.fromisoformat(body["data"]["send_at"].replace("Z", "+00:00"))
    assert send_at > now and qh.is_open(qh.area_of(closed[0]), send_at)
    expires = datetime.fromisoformat(body["data"]["expires_at"].replace("Z", "+00:00"))
    assert expires - send_at == timedelta(hours=24)  # the reply window counts from the text
    status, msg = await org.call("GET", f"/v1/messages/{body['data']['message_id']}")
    assert status == 200 and msg["data"]["status"] == "scheduled", msg
    status, body = await org.call("PATCH", "/v1/compliance/settings", {"quiet_hours_action": "reject"})
    assert status == 200, body
    status, body = await org.call("POST", "/v1/consent/double-opt-in", {**doi, "contact_number": closed[1]})
    assert status == 453 and body["error"]["code"] == "QUIET_HOURS", body


async def test_canceled_messages_stop_counting(system: System) -> None:
    org = await sender_org(system)
    await org.quiet_hours_off()
    contact = "+14055550188"  # Oklahoma City: OK allows 3 marketing messages per 24 h
    await record_consent(org, contact)
    later = (utcnow() + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    for i in range(3):
        status, body = await org.send(to=contact, text=f"tomorrow's deal {i}", category="marketing", send_at=later)
        assert status == 202 and body["data"]["status"] == "scheduled", body
    status, body = await org.send(to=contact, text="one more deal", category="marketing")
    assert status == 453 and body["error"]["code"] == "FREQUENCY_CAP", body
    await text_from(system, org, "STOP", handset=contact)  # cancels the three scheduled ones
    await wait_status(org, "opted_out", contact)
    await text_from(system, org, "START", handset=contact)
    await wait_status(org, "granted", contact)

    async def counted_no_more() -> Any:
        status, body = await org.send(to=contact, text="welcome back deal", category="marketing")
        assert status in (202, 453), body
        return body if status == 202 else None

    await system.eventually(counted_no_more)


HOLDOUT = Path(__file__).resolve().parents[2] / "services/compliance/tests/data/optout_holdout.tsv"


def holdout_sample(each: int) -> list[tuple[str, str, str]]:
    """(label, language, text): every n-th opt-out and every n-th other text of the held-out corpus, so that
    ``each`` of both are taken, spread over the file (English and Spanish, typos, hard negatives)."""
    rows = [line.split("\t") for line in HOLDOUT.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    out: list[tuple[str, str, str]] = []
    for label in ("none", "opt_out"):
        mine = [(r[0], r[1], r[3]) for r in rows if r[0] == label]
        out += mine[:: max(1, len(mine) // each)][:each]
    return out


async def test_held_out_phrasings_texted_from_handsets_set_the_consent_state(system: System) -> None:
    """What a reviewer does: texts from simulated handsets, consent state read afterwards. Opt-outs are
    opted out and confirmed in their language; the others (sent first) are read and leave consent alone."""
    org = await sender_org(system)
    await org.quiet_hours_off()
    sample = holdout_sample(10)
    handsets = [f"+1555124{n:04d}" for n in range(len(sample))]
    for handset in handsets:
        await record_consent(org, handset)
    for (_, _, text), handset in zip(sample, handsets, strict=True):
        await text_from(system, org, text, handset=handset)
    for (label, language, text), handset in zip(sample, handsets, strict=True):
        if label == "opt_out":
            await wait_status(org, "opted_out", handset)
            got = await wait_inbox(system, 1, handset)
            said = "se ha dado de baja" if language == "es" else "unsubscribed"
            assert said in got[0]["text"], (text, got)
        else:
            async def read(contact: str = handset) -> dict[str, Any] | None:
                view = await org.consent(contact)
                return view if view["last_inbound_at"] else None

            view = await system.eventually(read)
            assert view["status"] != "opted_out", (text, view)


async def test_a_start_sent_before_a_stop_but_screened_after_it_leaves_the_contact_opted_out(system: System) -> None:
    """Texts can reach compliance out of the order they were sent (a retried batch, two inbound replicas):
    the contact's latest word stands, by when each text reached the carrier, across the stored ledger."""
    org = await sender_org(system, approve=False)
    contact = "+15550007001"
    await record_consent(org, contact)
    nc = await nats.connect(system.env["AM_NATS_URL"])
    try:
        rpc = RpcClient(nc, Subjects(system.env["AM_SUBJECT_ROOT"]))
        now = utcnow()

        async def screened(body: str, received_at: datetime) -> None:
            mid = new_id()
            await rpc.call(ScreenInbound(messages=[InboundMessageReceived(
                org_id=org.org_id, message_id=mid, carrier_message_id=f"c-{mid}", phone_number_id=org.number_id,
                from_=contact, to=org.number, body=body, received_at=received_at, occurred_at=utcnow(),
                event_id=new_id())]))

        await screened("STOP", now)
        await screened("START", now - timedelta(seconds=10))  # sent first, screened last
        assert (await org.consent(contact))["status"] == "opted_out"
        await screened("START", now + timedelta(seconds=1))  # sent after the STOP
        assert (await org.consent(contact))["status"] == "granted"
        await screened("STOP", now)  # the first STOP again (a redelivery): the START came after it
        assert (await org.consent(contact))["status"] == "granted"
    finally:
        await nc.close()
