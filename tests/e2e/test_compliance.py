"""Compliance end to end through the public gateway: the quickstart's step 5 (453, double opt-in, YES from
the handset, 202), STOP / START / HELP from a simulated handset, the dry-run check, settings, the consent
ledger and its audit export, and a STOP that cancels everything still queued."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import nats

from proto.base import rfc3339, utcnow
from services.compliance import quiet_hours as qh
from tests.e2e import data
from tests.system import System

CONTACT = "+15551234567"
CONFIRMATION = data.CONFIRMATION
HELP_MESSAGE = "Acme Agents: help at acme.example/help or 415-555-0100. Reply STOP to opt out."
BRAND = data.BRAND
CAMPAIGN = {**data.CAMPAIGN, "help_message": HELP_MESSAGE}


class Org:
    def __init__(self, system: System, key: str, org_id: str, number_id: str, number: str):
        self.system, self.key, self.org_id, self.number_id, self.number = system, key, org_id, number_id, number

    async def call(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        status, body, _ = await self.system.call(method, path, key=self.key, json=json)
        return status, body

    async def send(self, to: str = CONTACT, text: str = "hello from agentmessage", **extra: Any) -> tuple[int, Any]:
        return await self.call("POST", "/v1/messages", {"from": self.number, "to": to, "text": text, **extra})

    async def consent(self, contact: str = CONTACT) -> dict[str, Any]:
        status, body = await self.call("GET", f"/v1/consent/{contact}")
        assert status == 200, body
        return dict(body["data"])

    async def quiet_hours_off(self) -> None:
        """Deliveries in these tests must not wait for the wall clock's window."""
        status, body = await self.call("PATCH", "/v1/compliance/settings", {"quiet_hours_enabled": False})
        assert status == 200 and body["data"]["quiet_hours_enabled"] is False, body


async def sender_org(system: System, approve: bool = True, campaign: dict[str, Any] | None = None) -> Org:
    """The quickstart's steps 1-4: sign up, order a number, register a brand and a campaign, wait for approval."""
    data = await system.signup()
    key = data["api_key"]["secret"]
    number = await system.order_number(key)
    org = Org(system, key, data["organization"]["id"], number["id"], number["phone_number"])
    if approve:
        await system.approved_campaign(key, BRAND, campaign or CAMPAIGN)
    return org


def check_of(decision: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(c for c in decision["checks"] if c["name"] == name))


async def inbox(system: System, handset: str = CONTACT) -> list[dict[str, Any]]:
    status, body, _ = await system.call("GET", f"/sim/handsets/{handset}/messages")
    assert status == 200, body
    return list(body["data"])


async def text_from(system: System, org: Org, text: str, handset: str = CONTACT) -> None:
    status, body, _ = await system.call("POST", "/sim/messages", json={"from": handset, "to": org.number,
                                                                       "text": text})
    assert status == 202, body


async def wait_inbox(system: System, count: int, handset: str = CONTACT) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        got = await inbox(system, handset)
        return got if len(got) >= count else None

    got: list[dict[str, Any]] = await system.eventually(enough)
    return got


async def wait_status(org: Org, status: str, contact: str = CONTACT) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        view = await org.consent(contact)
        return view if view["status"] == status else None

    view: dict[str, Any] = await org.system.eventually(reached)
    return view


async def test_quickstart_step_5_consent_required_then_double_opt_in_then_202(system: System) -> None:
    org = await sender_org(system)
    status, body = await org.send()
    assert status == 453, body
    assert body["error"]["code"] == "CONSENT_REQUIRED"
    assert "POST /v1/consent/double-opt-in" in body["error"]["message"]
    await org.quiet_hours_off()  # the confirmation text keeps to quiet hours (tested in test_optout_caps)
    status, body = await org.call("POST", "/v1/consent/double-opt-in", {
        "phone_number_id": org.number_id, "contact_number": CONTACT, "confirmation_text": CONFIRMATION})
    assert status == 202, body
    doi = body["data"]
    assert doi["status"] == "pending" and doi["contact_number"] == CONTACT
    assert doi["phone_number_id"] == org.number_id and doi["expires_at"] and doi["message_id"]
    got = await wait_inbox(system, 1)
    assert got[0]["text"] == CONFIRMATION and got[0]["from"] == org.number
    await text_from(system, org, "YES")
    view = await wait_status(org, "granted")
    assert view["consent"]["method"] == "double_opt_in"
    assert view["consent"]["evidence"]["confirmation_message_id"] == doi["message_id"]
    status, body = await org.send()
    assert status == 202, body
    msg = body["data"]
    assert (msg["from"], msg["to"], msg["text"]) == (org.number, CONTACT, "hello from agentmessage")
    assert msg["status"] in ("queued", "scheduled")  # scheduled: outside the hours all US zones share
    assert msg["id"] and msg["created_at"]


async def test_stop_gets_exactly_one_confirmation_then_453_until_start(system: System) -> None:
    org = await sender_org(system)
    await org.quiet_hours_off()
    status, body = await org.call("POST", "/v1/consent", {
        "contact_number": CONTACT, "method": "web_form",
        "evidence": {"disclosure_text": "I agree to texts from Acme", "source_url": "https://acme.example/signup"}})
    assert status == 201 and body["data"]["status"] == "granted", body
    assert (await org.send(text="first"))[0] == 202
    before = await wait_inbox(system, 1)
    await text_from(system, org, "STOP")
    after = await wait_inbox(system, len(before) + 1)
    await text_from(system, org, "stop")  # a repeat: no second confirmation
    await asyncio.sleep(1.0)
    after = await inbox(system)
    assert len(after) == len(before) + 1, after
    confirmation = after[-1]["text"]
    assert "START" in confirmation or "unsubscribed" in confirmation.lower() or "opt" in confirmation.lower()
    status, body = await org.send(text="after stop")
    assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", body
    assert "START" in body["error"]["message"]
    await text_from(system, org, "HELP")  # an opted-out contact asking for help is still answered
    assert (await wait_inbox(system, len(after) + 1))[-1]["text"] == HELP_MESSAGE
    view = await org.consent()
    assert view["status"] == "opted_out" and view["opt_out_source"] == "keyword" and view["opt_out_rule"] == "STOP"
    status, body = await org.call("POST", "/v1/consent", {
        "contact_number": CONTACT, "method": "web_form", "evidence": {"disclosure_text": "x"}})
    assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT"  # only the contact can undo a STOP
    await text_from(system, org, "START")
    view = await wait_status(org, "granted")
    assert view["consent"]["method"] == "keyword"
    status, body = await org.send(text="welcome back")
    assert status == 202, body
    types = [h["type"] for h in (await org.call("GET", f"/v1/consent/{CONTACT}"))[1]["data"]["history"]]
    assert types[:3] == ["ConsentGranted", "ConsentRevoked", "OptOutRecorded"]
    assert "OptInRecorded" in types


async def test_help_gets_the_campaign_help_then_the_custom_reply(system: System) -> None:
    org = await sender_org(system)
    await text_from(system, org, "HELP")
    got = await wait_inbox(system, 1)
    assert got[0]["text"] == HELP_MESSAGE
    status, body = await org.call("PATCH", "/v1/compliance/settings", {"help_reply": "Custom help. Reply STOP to opt out."})
    assert status == 200 and body["data"]["help_reply"].startswith("Custom help"), body
    await text_from(system, org, "info")
    got = await wait_inbox(system, 2)
    assert got[1]["text"] == "Custom help. Reply STOP to opt out."
    status, body = await org.call("PATCH", "/v1/compliance/settings", {"help_reply": None, "nope": 1})
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"


async def test_a_blank_keyword_reply_is_refused_not_texted(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    for name in ("help_reply", "opt_out_reply", "opt_in_reply"):
        status, body, _ = await system.call("PATCH", "/v1/compliance/settings", key=key, json={name: "  \n "})
        assert status == 400 and body["error"]["details"]["field"] == name, body
    status, body, _ = await system.call("GET", "/v1/compliance/settings", key=key)
    assert status == 200 and body["data"]["help_reply"] is None, body


async def test_plain_language_opt_out_records_its_rule(system: System) -> None:
    org = await sender_org(system)
    await text_from(system, org, "Please stop texting me!")
    view = await wait_status(org, "opted_out")
    assert view["opt_out_source"] == "plain_language" and view["opt_out_rule"] == "stop_texting_me"
    await wait_inbox(system, 1)  # the one confirmation


async def test_check_shows_every_check_and_is_not_a_send(system: System) -> None:
    org = await sender_org(system, approve=False)
    req = {"from": org.number, "to": CONTACT, "text": "hi"}
    status, body = await org.call("POST", "/v1/compliance/check", req)
    assert status == 200, body
    d = body["data"]
    assert [c["name"] for c in d["checks"]] == ["opt_out", "registration", "consent", "quiet_hours", "frequency_cap"]
    assert d["decision"] == "deny" and d["code"] == "SENDING_NOT_ENABLED" and d["status"] == 403
    assert {c["name"]: c["result"] for c in d["checks"]}["consent"] == "fail"
    org = await sender_org(system)
    await org.quiet_hours_off()
    status, body = await org.call("POST", "/v1/compliance/check", {**req, "from": org.number})
    d = body["data"]
    assert (d["decision"], d["code"], d["status"]) == ("deny", "CONSENT_REQUIRED", 453)
    assert {c["name"]: c["result"] for c in d["checks"]} == {
        "opt_out": "pass", "registration": "pass", "consent": "fail", "quiet_hours": "skip", "frequency_cap": "skip"}
    await org.call("POST", "/v1/consent", {"contact_number": CONTACT, "method": "verbal",
                                           "evidence": {"disclosure_text": "Can we text you? Yes."}})
    status, body = await org.call("POST", "/v1/compliance/check", {**req, "from": org.number, "category": "marketing"})
    assert body["data"]["decision"] == "allow", body
    assert await inbox(system) == []  # a check sends nothing
    status, body = await org.call("POST", "/v1/compliance/check", {"from": org.number, "to": "12", "text": "x"})
    assert status == 400 and body["error"]["details"]["field"] == "to"
    for path in ("/v1/compliance/check", "/v1/messages"):  # a number not the organization's: the send's answer
        status, body = await org.call("POST", path, {**req, "from": "+14155559876"})
        assert status == 400 and body["error"]["code"] == "FROM_NUMBER_NOT_FOUND", (path, body)
        assert body["error"]["details"]["field"] == "from", (path, body)


async def test_double_opt_in_rules_and_scoping(system: System) -> None:
    org = await sender_org(system)
    req = {"phone_number_id": org.number_id, "contact_number": CONTACT, "confirmation_text": CONFIRMATION}
    assert (await org.call("POST", "/v1/consent/double-opt-in", req))[0] == 202
    status, body = await org.call("POST", "/v1/consent/double-opt-in", req)
    assert status == 429 and body["error"]["code"] == "DOUBLE_OPT_IN_RATE_LIMITED", body
    other = await sender_org(system, approve=False)
    status, body = await other.call("POST", "/v1/consent/double-opt-in", req)  # org's number id: not theirs
    assert status == 404 and body["error"]["code"] == "NOT_FOUND", body
    status, body = await other.call("POST", "/v1/consent/double-opt-in", {**req, "phone_number_id": other.number_id})
    assert status == 403 and body["error"]["code"] == "SENDING_NOT_ENABLED", body
    assert (await other.consent())["status"] == "none"  # another org's ledger is its own
    status, body = await org.call("DELETE", f"/v1/consent/{CONTACT}")
    assert status == 200 and body["data"]["status"] == "opted_out" and body["data"]["opt_out_source"] == "api"
    status, body = await org.call("POST", "/v1/consent/double-opt-in",
                                  {**req, "contact_number": "+15551234568"})
    assert status == 202, body
    status, body = await org.call("DELETE", "/v1/consent/+15551234568")
    assert status == 200
    status, body = await org.call("POST", "/v1/consent/double-opt-in", {**req, "contact_number": "+15551234569"})
    assert status == 202
    status, body = await org.call("POST", "/v1/consent/double-opt-in", req)
    assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", body


async def test_ledger_list_history_and_audit_export_show_the_evidence(system: System) -> None:
    org = await sender_org(system)
    evidence = {"disclosure_text": "By checking this box you agree to texts from Acme. Reply STOP to opt out.",
                "source_url": "https://acme.example/signup", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0",
                "captured_at": "2026-06-11T12:00:00-07:00"}
    status, body = await org.call("POST", "/v1/consent", {"contact_number": "+14155550177", "method": "web_form",
                                                          "evidence": evidence})
    assert status == 201, body
    formula = {"disclosure_text": '=HYPERLINK("https://evil.example","Click")', "user_agent": "@SUM(1+1)"}
    status, body = await org.call("POST", "/v1/consent", {"contact_number": "+14155550178", "method": "web_form",
                                                          "evidence": formula})
    assert status == 201, body
    await org.quiet_hours_off()
    assert (await org.call("POST", "/v1/consent/double-opt-in", {
        "phone_number_id": org.number_id, "contact_number": CONTACT, "confirmation_text": CONFIRMATION}))[0] == 202
    await wait_inbox(system, 1)
    await text_from(system, org, "y")
    await wait_status(org, "granted")
    assert (await org.call("DELETE", "/v1/consent/+14155550177"))[0] == 200
    status, body = await org.call("GET", "/v1/consent?status=granted")
    assert sorted(c["contact_number"] for c in body["data"]) == sorted([CONTACT, "+14155550178"]), body
    status, body = await org.call("GET", "/v1/consent?method=double_opt_in")
    assert [c["contact_number"] for c in body["data"]] == [CONTACT], body
    status, body = await org.call("GET", "/v1/consent?method=webform")  # a typo: refused, not an empty page
    assert status == 400 and body["error"]["details"]["field"] == "method", body
    status, body = await org.call("GET", "/v1/consent?limit=1")
    assert len(body["data"]) == 1 and body["meta"]["next_cursor"]
    status, body2 = await org.call("GET", f"/v1/consent?limit=1&cursor={body['meta']['next_cursor']}")
    assert body2["data"][0]["contact_number"] != body["data"][0]["contact_number"]
    history = (await org.call("GET", "/v1/consent/+14155550177"))[1]["data"]["history"]
    assert [h["type"] for h in history] == ["ConsentGranted", "ConsentRevoked", "OptOutRecorded"]
    assert history[0]["details"]["evidence"]["ip"] == "203.0.113.7"  # revocation appended, nothing deleted

    assert org.system.http is not None
    async with org.system.http.get(f"{system.gateway}/v1/consent/export?format=jsonl",
                                   headers={"Authorization": f"Bearer {org.key}"}) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/x-ndjson")
        rows = [json.loads(line) for line in (await r.text()).splitlines()]
    granted = {r["contact_number"]: r for r in rows if r["type"] == "ConsentGranted"}
    web = granted["+14155550177"]["evidence"]
    assert (web["disclosure_text"], web["source_url"], web["ip"], web["user_agent"]) == (
        evidence["disclosure_text"], evidence["source_url"], evidence["ip"], evidence["user_agent"])
    assert web["captured_at"] == "2026-06-11T19:00:00.000Z"
    doi = granted[CONTACT]
    assert doi["method"] == "double_opt_in"
    e = doi["evidence"]
    assert e["confirmation_text"] == CONFIRMATION and e["confirmation_message_id"] and e["reply_message_id"]
    assert e["confirmation_sent_at"] and e["reply_received_at"] and e["reply_text"] == "y"
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    async with org.system.http.get(f"{system.gateway}/v1/consent/export?format=csv",
                                   headers={"Authorization": f"Bearer {org.key}"}) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(await r.text())))
    assert len(table) == len(rows)
    assert any(t["disclosure_text"] == evidence["disclosure_text"] and t["ip"] == evidence["ip"] for t in table)
    # a cell that would run as a formula in a spreadsheet is quoted in the CSV (the JSONL keeps it as it is)
    [hostile] = [t for t in table if t["contact_number"] == "+14155550178" and t["type"] == "ConsentGranted"]
    assert (hostile["disclosure_text"], hostile["user_agent"]) == ("'" + formula["disclosure_text"], "'@SUM(1+1)")
    assert granted["+14155550178"]["evidence"]["disclosure_text"] == formula["disclosure_text"]
    assert all(t["contact_number"].startswith("+1") for t in table)  # phone numbers stay as they are
    other = await sender_org(system, approve=False)
    async with org.system.http.get(f"{system.gateway}/v1/consent/export",
                                   headers={"Authorization": f"Bearer {other.key}"}) as r:
        assert r.status == 200 and (await r.text()) == ""


async def test_stop_cancels_everything_still_queued(system: System) -> None:
    org = await sender_org(system)
    await org.quiet_hours_off()
    await org.call("POST", "/v1/consent", {"contact_number": CONTACT, "method": "paper",
                                           "evidence": {"disclosure_text": "signed form #12"}})
    later = rfc3339(utcnow() + timedelta(days=1))
    sends = await asyncio.gather(*(org.send(text=f"reminder {i}", send_at=later) for i in range(200)))
    assert all(s == 202 and b["data"]["status"] == "scheduled" for s, b in sends), sends[0]
    ids = {b["data"]["id"] for _, b in sends}
    await text_from(system, org, "STOP")

    async def all_canceled() -> bool:
        _, body = await org.call("GET", "/v1/messages?status=canceled&limit=100")
        seen = {m["id"] for m in body["data"]}
        cursor = body["meta"]["next_cursor"]
        while cursor:
            _, body = await org.call("GET", f"/v1/messages?status=canceled&limit=100&cursor={cursor}")
            seen |= {m["id"] for m in body["data"]}
            cursor = body["meta"]["next_cursor"]
        return ids <= seen

    await system.eventually(all_canceled, timeout=15)
    got = await wait_inbox(system, 1)
    assert len(got) == 1 and "reminder" not in got[0]["text"]  # only the confirmation


# Between them, at any instant at least one of these recipients is outside its allowed hours.
QUIET_CANDIDATES = ["+14015550123", "+12125550123", "+18085550123", "+16715550123", "+442071234567",
                    "+14155550123"]


async def test_quiet_hours_defer_then_reject_and_transactional_is_exempt(system: System) -> None:
    now = utcnow()
    contact = next(n for n in QUIET_CANDIDATES
                   if not any(qh.is_open(qh.area_of(n), now + timedelta(minutes=m)) for m in (0, 1, 2)))
    org = await sender_org(system)
    await org.call("POST", "/v1/consent", {"contact_number": contact, "method": "web_form",
                                           "evidence": {"disclosure_text": "Texts from Acme, reply STOP to end"}})
    req = {"from": org.number, "to": contact, "text": "weekly digest", "category": "marketing"}
    _, body = await org.call("POST", "/v1/compliance/check", req)
    d = body["data"]
    assert d["decision"] == "defer" and check_of(d, "quiet_hours")["result"] == "defer", d
    opens = datetime.fromisoformat(d["defer_until"].replace("Z", "+00:00"))
    assert opens > now and qh.is_open(qh.area_of(contact), opens)
    status, body = await org.send(to=contact, text="weekly digest", category="marketing")
    assert status == 202 and body["data"]["status"] == "scheduled", body
    status, body = await org.call("PATCH", "/v1/compliance/settings", {"quiet_hours_action": "reject"})
    assert status == 200 and body["data"]["quiet_hours_action"] == "reject"
    status, body = await org.send(to=contact, text="weekly digest", category="marketing")
    assert status == 453 and body["error"]["code"] == "QUIET_HOURS", body
    _, body = await org.call("POST", "/v1/compliance/check", {**req, "category": "transactional"})
    assert body["data"]["decision"] == "allow"
    assert check_of(body["data"], "quiet_hours")["detail"] == "exempt: transactional"
    status, body = await org.send(to=contact, text="your code is 123456", category="transactional")
    assert status == 202 and body["data"]["status"] == "queued", body


async def test_every_send_decision_is_on_a_ledger_page_on_the_bus(system: System) -> None:
    """Each decision of the gate is recorded before it is answered, in a GateDecisionsRecorded page (the
    decisions one group commit recorded, per organization), and the page reaches JetStream."""
    org = await sender_org(system)
    await org.quiet_hours_off()
    allowed = [f"+1555{n:07d}" for n in range(2000100, 2000104)]
    for contact in allowed:
        status, body = await org.call("POST", "/v1/consent", {"contact_number": contact, "method": "verbal",
                                                               "evidence": {"disclosure_text": "Can we text you? Yes."}})
        assert status == 201, body
    refused = "+15552000199"
    answers = await asyncio.gather(*(org.send(c, text=f"page {i}") for i, c in enumerate(allowed)),
                                   org.send(refused, text="no consent"))
    assert [a[0] for a in answers] == [202] * 4 + [453], answers
    sent = {a[1]["data"]["id"] for a in answers[:4]}

    nc = await nats.connect(system.env["AM_NATS_URL"])
    try:
        js = nc.jetstream()
        root = system.env["AM_SUBJECT_ROOT"]
        sub = await js.pull_subscribe(f"{root}.compliance.decision.gate_decisions_recorded.{org.org_id}",
                                      stream=f"{root.upper()}_COMPLIANCE")
        accepts: dict[str, dict[str, Any]] = {}

        async def recorded() -> bool:
            with contextlib.suppress(nats.errors.TimeoutError):
                for msg in await sub.fetch(50, timeout=0.5):
                    page = json.loads(msg.data)
                    assert page["type"] == "GateDecisionsRecorded" and page["org_id"] == org.org_id
                    for d in page["decisions"]:
                        if d["stage"] == "accept":
                            accepts[d["message_id"] if d["decision"] == "allow" else d["contact_number"]] = d
                    await msg.ack()
            return sent | {refused} <= set(accepts)

        await system.eventually(recorded, timeout=10)
    finally:
        await nc.close()
    assert all(accepts[m]["decision"] == "allow" for m in sent)
    assert (accepts[refused]["decision"], accepts[refused]["code"]) == ("deny", "CONSENT_REQUIRED")


async def test_a_burst_of_texts_opens_each_conversation_and_a_stop_in_it_still_opts_out(system: System) -> None:
    """The keyword consumer records plain texts of a fetched batch together and keywords one by one: every
    sender's conversation window opens, and a STOP in the middle of the burst opts out with one reply."""
    org = await sender_org(system)
    await org.quiet_hours_off()
    status, body = await org.call("PATCH", "/v1/compliance/settings", {"conversation_window_enabled": True})
    assert status == 200 and body["data"]["conversation_window_enabled"] is True, body
    talkers = [f"+1555{n:07d}" for n in range(3000100, 3000112)]
    stopper = "+15553000199"
    await asyncio.gather(*(text_from(system, org, "hi, is my order ready?", handset=h) for h in talkers[:6]),
                         text_from(system, org, "STOP", handset=stopper),
                         *(text_from(system, org, "hello?", handset=h) for h in talkers[6:]))
    await wait_status(org, "opted_out", stopper)

    async def replies_allowed() -> bool:
        checks = await asyncio.gather(*(org.call("POST", "/v1/compliance/check", {
            "from": org.number, "to": h, "text": "yes, it shipped"}) for h in talkers))
        return all(body["data"]["decision"] == "allow" for _, body in checks)

    await system.eventually(replies_allowed)  # in the window: no recorded consent needed
    status, body = await org.send(talkers[0], text="yes, it shipped")
    assert status == 202, body
    status, body = await org.send(stopper, text="are you sure?")
    assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT", body
    await asyncio.sleep(0.5)
    assert len(await inbox(system, stopper)) == 1  # the confirmation, once
