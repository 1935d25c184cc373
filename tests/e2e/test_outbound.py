"""Outbound end to end through the public API: the quickstart's send, the lifecycle to a terminal
status, the gate and credit before acceptance, idempotency, a flaky carrier, STOP while messages are
queued, and a restart of the outbound service mid-flight."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from proto.events.accounts import CreditCaptured
from tests.e2e import data
from tests.system import ApiUser, System, running_system

BRAND = {**data.BRAND, "ein": "10-0000004"}
CAMPAIGN = data.CAMPAIGN
CONFIRMATION = data.CONFIRMATION


class Org(ApiUser):
    def __init__(self, system: System, key: str, org_id: str, number: str, number_id: str):
        self.system, self.key, self.org_id, self.number, self.number_id = system, key, org_id, number, number_id

    async def send(self, to: str, text: str = "hello from agentmessage", **extra: Any) -> tuple[int, Any]:
        """A send as the README's retry contract asks: one Idempotency-Key, and on 503 (a fault) or 409
        IDEMPOTENCY_IN_FLIGHT the same request again after Retry-After, for up to a minute."""
        key = f"send-{uuid.uuid4().hex}"
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            status, body, headers = await self.call("POST", "/v1/messages", headers={"Idempotency-Key": key},
                                                    json={"from": self.number, "to": to, "text": text, **extra})
            retry = status == 503 or (status == 409 and body["error"]["code"] == "IDEMPOTENCY_IN_FLIGHT")
            if not retry or asyncio.get_running_loop().time() > deadline:
                return status, body
            await asyncio.sleep(float(headers.get("Retry-After", "1")))

    async def sends(self, to: str, texts: list[str], **extra: Any) -> list[str]:
        """Each text sent in turn, each accepted (202): their message ids."""
        ids = []
        for text in texts:
            status, body = await self.send(to, text=text, **extra)
            assert status == 202, body
            ids.append(body["data"]["id"])
        return ids

    async def delivered(self, to: str, text: str = "hello from agentmessage", timeout: float = 30.0
                        ) -> dict[str, Any]:
        """One text sent (202) and followed until it is delivered: the message at the end."""
        [mid] = await self.sends(to, [text])
        final = (await self.until_terminal([mid], timeout=timeout))[mid]
        assert final["status"] == "delivered", final
        return final

    async def consent(self, contact: str) -> None:
        status, body, _ = await self.call("POST", "/v1/consent", json={
            "contact_number": contact, "method": "web_form",
            "evidence": {"disclosure_text": "I agree to receive texts from Acme. Reply STOP to opt out.",
                         "source_url": "https://acme.example/signup"}})
        assert status == 201, body

    async def new_contact(self) -> str:
        """A new handset with consent on file (a web form): one this organization may text."""
        contact = handset()
        await self.consent(contact)
        return contact

    async def inbox(self, handset: str) -> list[str]:
        status, body, _ = await self.system.call("GET", f"/sim/handsets/{handset}/messages")
        assert status == 200
        return [m["text"] for m in body["data"] if m["from"] == self.number]

    async def balance(self) -> str:
        _, body, _ = await self.call("GET", "/v1/balance")
        return str(body["data"]["balance"])


def handset() -> str:
    return f"+1555{uuid.uuid4().int % 10_000_000:07d}"


async def onboard(system: System, quiet_hours: bool = False) -> Org:
    """Quickstart steps 1-4: sign up, search and order a number, register a brand and a campaign, wait for
    approval. Quiet hours are switched off unless asked for, so no test depends on the wall clock."""
    data = await system.signup()
    key, org_id = data["api_key"]["secret"], data["organization"]["id"]
    number = await system.order_number(key)
    await system.approved_campaign(key, BRAND, CAMPAIGN)
    if not quiet_hours:
        status, body, _ = await system.call("PATCH", "/v1/compliance/settings", key=key,
                                            json={"quiet_hours_enabled": False})
        assert status == 200, body
    return Org(system, key, org_id, number["phone_number"], number["id"])


@asynccontextmanager
async def system_with(settings_env: dict[str, str], **extra: str) -> AsyncIterator[System]:
    async with running_system(settings_env, {f"AM_{k.upper()}": v for k, v in extra.items()}) as s:
        yield s


async def test_quickstart_step_5_send_is_queued_then_delivered_once(system: System) -> None:
    org = await onboard(system)
    contact = handset()
    # without consent: 453, nothing created, nothing spent
    before = await org.balance()
    status, body = await org.send(contact)
    assert status == 453 and body["error"]["code"] == "CONSENT_REQUIRED", body
    _, listing, _ = await org.call("GET", "/v1/messages")
    assert listing["data"] == [] and await org.balance() == before
    # double opt-in: the confirmation text goes out through outbound, the contact replies YES
    status, body, _ = await org.call("POST", "/v1/consent/double-opt-in", json={
        "phone_number_id": org.number_id, "contact_number": contact, "confirmation_text": CONFIRMATION})
    assert status == 202, body
    await system.eventually(lambda: _inbox_has(org, contact, CONFIRMATION))
    status, _, _ = await system.call("POST", "/sim/messages", json={"from": contact, "to": org.number, "text": "YES"})
    assert status == 202

    async def consented() -> Any:
        s, b = await org.send(contact)
        return b if s == 202 else None

    body = await system.eventually(consented, timeout=10, interval=0.2)
    m = body["data"]
    assert {k: m[k] for k in ("from", "to", "text", "status")} == {
        "from": org.number, "to": contact, "text": "hello from agentmessage", "status": "queued"}
    uuid.UUID(m["id"])
    assert m["created_at"].endswith("Z") and (m["segments"], m["encoding"], m["price"]) == (1, "GSM-7", "0.0079")
    final = (await org.until_terminal([m["id"]]))[m["id"]]
    assert final["status"] == "delivered", final
    assert [t["status"] for t in final["timeline"]] == ["queued", "sending", "sent", "delivered"]
    assert all(t["at"].endswith("Z") for t in final["timeline"])
    assert (await org.inbox(contact)).count("hello from agentmessage") == 1


async def _inbox_has(org: Org, contact: str, text: str) -> bool:
    return text in await org.inbox(contact)


async def test_a_number_without_an_approved_campaign_cannot_send(system: System) -> None:
    data = await system.signup()
    key = data["api_key"]["secret"]
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key,
                                        json={"numbers": ["+14155550142"]})
    assert status == 201, body
    contact = handset()
    status, body, _ = await system.call("POST", "/v1/consent", key=key, json={
        "contact_number": contact, "method": "web_form", "evidence": {"disclosure_text": "I agree to texts."}})
    assert status == 201, body
    status, body, _ = await system.call("POST", "/v1/messages", key=key,
                                        json={"from": "+14155550142", "to": contact, "text": "hi"})
    assert status == 403 and body["error"]["code"] == "SENDING_NOT_ENABLED", body
    status, body, _ = await system.call("POST", "/v1/messages", key=key,
                                        json={"from": "+14155550143", "to": contact, "text": "hi"})
    assert status == 400 and body["error"]["code"] == "FROM_NUMBER_NOT_FOUND", body
    _, listing, _ = await system.call("GET", "/v1/messages", key=key)
    assert listing["data"] == []


async def test_undelivered_receipt_is_terminal(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    await system.call("PUT", f"/sim/handsets/{contact}", json={"outcome": "undelivered", "duplicate_receipts": True,
                                                               "out_of_order": True})
    status, body = await org.send(contact)
    assert status == 202, body
    final = (await org.until_terminal([body["data"]["id"]]))[body["data"]["id"]]
    assert final["status"] == "undelivered" and final["error_code"], final
    await asyncio.sleep(0.3)  # the duplicate and the late ACCEPTD change nothing
    again = await org.message(body["data"]["id"])
    assert again["status"] == "undelivered" and len(again["timeline"]) == len(final["timeline"])


async def test_insufficient_credit_is_402_and_creates_nothing(settings_env: dict[str, str]) -> None:
    async with system_with(settings_env, price_per_segment_micros="2000000") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        statuses = []
        for _ in range(4):
            status, body = await org.send(contact)
            statuses.append(status)
            if status == 402:
                assert body["error"]["code"] == "INSUFFICIENT_CREDIT"
                break
        assert statuses[-1] == 402, statuses
        _, listing, _ = await org.call("GET", "/v1/messages")
        assert len(listing["data"]) == len(statuses) - 1
        assert not (await org.balance()).startswith("-")


async def test_a_double_opt_in_the_organization_cannot_pay_for_is_402(settings_env: dict[str, str]) -> None:
    """The double opt-in's answer is outbound's answer to its text (outbound sends it on the
    DoubleOptInRequested event, compliance waits for its word): what the send path refuses — here the
    credit, recorded as ReplyRefused — is the request's error, and nothing is left pending."""
    async with system_with(settings_env, price_per_segment_micros="100000000") as system:
        org = await onboard(system)
        contact = handset()
        status, body, _ = await org.call("POST", "/v1/consent/double-opt-in", json={
            "phone_number_id": org.number_id, "contact_number": contact, "confirmation_text": CONFIRMATION})
        assert status == 402 and body["error"]["code"] == "INSUFFICIENT_CREDIT", body
        _, listing, _ = await org.call("GET", "/v1/messages")
        assert listing["data"] == []
        status, body, _ = await org.call("GET", f"/v1/consent/{contact}")
        assert status == 200 and body["data"]["status"] == "none", body


async def test_idempotent_replay_by_key_and_by_message_id(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    await org.sent_once_each(contact, ("exactly once", "by id"))
    assert sorted(await org.inbox(contact)) == ["by id", "exactly once"]
    _, listing, _ = await org.call("GET", "/v1/messages")
    assert len(listing["data"]) == 2


async def test_a_carrier_failing_a_fifth_of_submissions_still_delivers_each_once(settings_env: dict[str, str]) -> None:
    async with system_with(settings_env, smpp_url="") as system:  # the HTTP carrier API, with injected faults
        await _a_fifth_failing(system)


async def _a_fifth_failing(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    await system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 0.2}})
    ids = await org.sends(contact, [f"flaky {i}" for i in range(25)])
    final = await org.until_terminal(ids, timeout=30)
    await system.call("PUT", "/sim/config", json={"faults": {"error_fraction": 0.0}})
    assert {m["status"] for m in final.values()} == {"delivered"}
    assert sorted(await org.inbox(contact)) == sorted(f"flaky {i}" for i in range(25))


async def test_stop_while_messages_are_queued_cancels_them(settings_env: dict[str, str]) -> None:
    async with system_with(settings_env, number_throughput_mpm="60") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        ids = await org.sends(contact, [f"queued {i}" for i in range(10)])
        assert (await org.message(ids[-1]))["queue_position"] >= 5
        status, _, _ = await system.call("POST", "/sim/messages", json={"from": contact, "to": org.number,
                                                                         "text": "STOP"})
        assert status == 202
        final = await org.until_terminal(ids)
        canceled = [m for m in final.values() if m["status"] == "canceled"]
        delivered = sorted(m["text"] for m in final.values() if m["status"] == "delivered")
        assert len(canceled) >= 5 and len(canceled) + len(delivered) == 10, final
        assert all(m["error_code"] == "RECIPIENT_OPTED_OUT" for m in canceled)
        await asyncio.sleep(1.5)  # the throttle would have let another one out by now
        got = await org.inbox(contact)
        assert sorted(t for t in got if t.startswith("queued ")) == delivered
        # after the opt-out a new send is refused at once
        status, body = await org.send(contact, text="after stop")
        assert status == 453 and body["error"]["code"] == "RECIPIENT_OPTED_OUT"


async def test_restart_of_outbound_mid_flight_ends_every_message_once(system: System) -> None:
    org = await onboard(system)
    contacts = [await org.new_contact() for _ in range(3)]
    await system.call("PUT", "/sim/config", json={"faults": {"slow_fraction": 0.5, "slow_ms": 3000}})
    ids: dict[str, str] = {}
    for i in range(30):
        to = contacts[i % 3]
        status, body = await org.send(to, text=f"restart {i}")
        assert status == 202, body
        ids[body["data"]["id"]] = to
    await asyncio.sleep(0.3)
    old = system.services["outbound"]
    await old.stop()
    from services.outbound.app import build

    env = dict(system.env)
    env["AM_HTTP_PORT"] = str(old.port)  # receipts keep coming to the same address
    fresh, setup = build(env)
    await fresh.start(setup)  # type: ignore[arg-type]
    system.services["outbound"] = fresh
    try:
        await system.call("PUT", "/sim/config", json={"faults": {"slow_fraction": 0.0}})
        final = await org.until_terminal(list(ids), timeout=30)
        assert {m["status"] for m in final.values()} == {"delivered"}
        for c in contacts:
            expected = sorted(m["text"] for mid, m in final.items() if ids[mid] == c)
            assert sorted(await org.inbox(c)) == expected
    finally:
        await fresh.stop()


async def test_sends_arriving_together_are_each_answered_on_their_own(system: System) -> None:
    """Concurrent sends are accepted in batches (one gate, credit and write request each): every send
    still gets its own answer, the refused ones create and spend nothing, a message id sent twice at
    once is one message, and each accepted text reaches its handset once."""
    org = await onboard(system)
    allowed = [await org.new_contact() for _ in range(8)]
    no_consent = handset()
    twice = str(uuid.uuid4())
    before = await org.balance()
    calls = [org.send(c, text=f"together {i}") for i, c in enumerate(allowed)]
    calls += [org.send(no_consent, text="refused"), org.send(no_consent, text="refused again")]
    calls += [org.call("POST", "/v1/messages", json={"from": "+19075550143", "to": allowed[0], "text": "not ours"})]
    calls += [org.send(allowed[1], text="same id", message_id=twice) for _ in range(2)]
    answers = await asyncio.gather(*calls)
    statuses = [a[0] for a in answers]
    assert statuses[:8] == [202] * 8, answers[:8]
    assert statuses[8:10] == [453, 453] and {a[1]["error"]["code"] for a in answers[8:10]} == {"CONSENT_REQUIRED"}
    assert statuses[10] == 400 and answers[10][1]["error"]["code"] == "FROM_NUMBER_NOT_FOUND", answers[10]
    assert statuses[11:] == [202, 202] and answers[11][1]["data"]["id"] == answers[12][1]["data"]["id"] == twice
    ids = [a[1]["data"]["id"] for a in answers[:8]] + [twice]
    assert len(set(ids)) == 9
    _, listing, _ = await org.call("GET", "/v1/messages", params={"limit": "50"})
    assert sorted(m["id"] for m in listing["data"]) == sorted(ids)
    final = await org.until_terminal(ids, timeout=30)
    assert {m["status"] for m in final.values()} == {"delivered"}
    spent = round(float(before) - float(await org.balance()), 4)
    assert spent == round(9 * 0.0079, 4), (before, await org.balance())
    for i, contact in enumerate(allowed):
        inbox = await org.inbox(contact)
        assert inbox.count(f"together {i}") == 1, inbox
    assert (await org.inbox(allowed[1])).count("same id") == 1
    # and each one's credit is captured once (the credit consumer settles what it fetched together)
    accounts = system.services["accounts"].pool

    async def captured() -> bool:
        rows = await accounts.fetch("SELECT state FROM reservations WHERE id = ANY($1::text[])", ids)
        return [r["state"] for r in rows] == ["captured"] * 9

    await system.eventually(captured)
    events = await accounts.fetch("SELECT stream_id, version FROM events WHERE event_type = $1"
                                  " AND stream_id = ANY($2::text[])", CreditCaptured.type_name(),
                                  [f"reservation-{m}" for m in ids])
    assert sorted((e["stream_id"], e["version"]) for e in events) == sorted((f"reservation-{m}", 2) for m in ids)


async def test_credit_running_out_inside_a_batch_refuses_only_what_it_cannot_cover(
        settings_env: dict[str, str]) -> None:
    # one accept worker: while the first send is accepted the other seven gather into one batch
    async with system_with(settings_env, price_per_segment_micros="1000000", accept_workers="1") as system:
        org = await onboard(system)
        contacts = [await org.new_contact() for _ in range(8)]
        before = float(await org.balance())
        affordable = int(before)  # $1 a message
        assert 0 < affordable < 8
        answers = await asyncio.gather(*(org.send(c, text=f"costly {i}") for i, c in enumerate(contacts)))
        statuses = sorted(a[0] for a in answers)
        assert statuses == [202] * affordable + [402] * (8 - affordable), answers
        assert all(a[1]["error"]["code"] == "INSUFFICIENT_CREDIT" for a in answers if a[0] == 402)
        _, listing, _ = await org.call("GET", "/v1/messages")
        assert len(listing["data"]) == affordable
        assert round(float(await org.balance()), 4) == round(before - affordable, 4)


async def test_a_change_to_the_number_reaches_the_next_sends_at_once(settings_env: dict[str, str]) -> None:
    """Outbound remembers a number that can send (here for a minute), and forgets it when numbers
    announces any change of the organization's: a new default status callback URL applies to the sends
    that follow, without waiting out the minute."""
    async with system_with(settings_env, accept_sender_cache_s="60") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        status, body = await org.send(contact, text="before")
        assert status == 202 and body["data"]["status_callback_url"] is None, body
        url = "http://127.0.0.1:9/status"
        status, body, _ = await org.call("PATCH", f"/v1/phone-numbers/{org.number_id}",
                                         json={"status_callback_url": url})
        assert status == 200, body

        async def follows() -> bool:
            status, body = await org.send(contact, text="after")
            assert status == 202, body
            return bool(body["data"]["status_callback_url"] == url)

        await system.eventually(follows, timeout=30, interval=0.2)


async def test_credit_held_for_a_send_that_was_never_written_is_given_back(settings_env: dict[str, str]) -> None:
    """The accept path holds credit, then writes the message: a process that dies in between (or a timed
    out hold that lands after its release) leaves a hold with no message. Outbound's dispatcher gives such
    holds back once they are old enough; a held message's credit stays held."""
    import nats

    from libs.bus.rpc import RpcClient
    from proto.base import new_id
    from proto.commands.accounts import ReserveCredit
    from proto.subjects import Subjects

    async with system_with(settings_env, orphan_hold_after_s="1", orphan_hold_sweep_s="0.2") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        status, body = await org.send(contact, text="see you in an hour", send_at=later)
        assert status == 202 and body["data"]["status"] == "scheduled", body
        before = Decimal(await org.balance())
        # given: a hold for a message id that outbound never wrote (as a crash between the two would leave)
        nc = await nats.connect(system.env["AM_NATS_URL"])
        try:
            orphan = new_id()
            await RpcClient(nc, Subjects(system.env["AM_SUBJECT_ROOT"])).call(ReserveCredit(
                org_id=org.org_id, reservation_id=orphan, amount_micros=7900, reason="message", reference=orphan))
        finally:
            await nc.close()

        # then: it is given back — held (a debit) and refunded on the statement, the balance whole again —
        # while the scheduled message's hold stays
        async def given_back() -> bool:
            return Decimal(await org.balance()) == before

        await system.eventually(given_back, timeout=30)
        _, ledger, _ = await org.call("GET", "/v1/balance")
        of_orphan = sorted((e["kind"], e["amount"], e["reason"]) for e in ledger["data"]["entries"]
                           if e["reference"] == orphan)
        assert of_orphan == [("debit", "-0.0079", "message"), ("refund", "0.0079", "message never accepted")], \
            ledger["data"]["entries"]
        assert (await org.message(body["data"]["id"]))["status"] == "scheduled"

        # when: the send whose hold it was is retried (its own message_id, as a client retrying a 503 would)
        status, sent = await org.send(contact, text="retried after a failed write", message_id=orphan)
        assert status == 202 and sent["data"]["id"] == orphan, sent
        assert (await org.until_terminal([orphan]))[orphan]["status"] == "delivered"
        # then: it is paid for once — held again, captured — not sent for free
        assert Decimal(await org.balance()) == before - Decimal("0.0079")
        _, ledger, _ = await org.call("GET", "/v1/balance")
        of_orphan = sorted((e["kind"], e["amount"], e["reason"]) for e in ledger["data"]["entries"]
                           if e["reference"] == orphan)
        assert of_orphan == [("debit", "-0.0079", "message"), ("debit", "-0.0079", "message"),
                             ("refund", "0.0079", "message never accepted")], ledger["data"]["entries"]
