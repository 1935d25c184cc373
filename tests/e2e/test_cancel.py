"""Canceling messages end to end: by the caller (POST /v1/messages/{id}/cancel), by releasing the sending
number, and releasing what quiet hours alone held when they are turned off — each with its refund on the
credit ledger (GET /v1/balance), its timeline reason and its status callback."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from proto.base import rfc3339, utcnow
from services.compliance import quiet_hours as qh
from tests.e2e.test_outbound import Org, onboard, system_with
from tests.system import System

QUIET_CANDIDATES = ["+14015550123", "+12125550123", "+18085550123", "+16715550123", "+442071234567",
                    "+14155550123"]


async def balance(org: Org) -> Decimal:
    status, body, _ = await org.call("GET", "/v1/balance")
    assert status == 200, body
    return Decimal(body["data"]["balance"])


async def ledger(org: Org) -> list[dict[str, Any]]:
    _, body, _ = await org.call("GET", "/v1/balance", params={"limit": 100})
    return list(body["data"]["entries"])


async def cancel(org: Org, mid: str) -> tuple[int, Any]:
    status, body, _ = await org.call("POST", f"/v1/messages/{mid}/cancel")
    return status, body


async def refunded(org: Org, mid: str) -> bool:
    return any(e["kind"] == "refund" and e["reference"] == mid for e in await ledger(org))


async def test_cancel_scheduled_and_queued_refunds_them_once_and_calls_back(settings_env: dict[str, str]) -> None:
    # a number that sends one message a minute: the first goes, the others wait in the queue
    async with system_with(settings_env, number_throughput_mpm="1") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        start = await balance(org)
        hook = "http://127.0.0.1:9/status"  # nobody listens: the callback stays pending, but it is there
        ids = await org.sends(contact, [f"queued {i}" for i in range(3)], status_callback_url=hook)
        status, body = await org.send(contact, text="later", send_at=rfc3339(utcnow() + timedelta(hours=2)))
        assert status == 202 and body["data"]["status"] == "scheduled", body
        later = body["data"]["id"]
        first = (await org.until_terminal(ids[:1]))[ids[0]]
        assert first["status"] == "delivered", first
        assert (await org.message(ids[2]))["status"] == "queued"

        # when: the queued and the scheduled one are canceled
        for mid in (ids[2], later):
            status, body = await cancel(org, mid)
            assert status == 200, body
            m = body["data"]
            assert (m["status"], m["error_code"]) == ("canceled", "CANCELED_BY_USER"), m
            assert m["timeline"][-1]["status"] == "canceled" and m["timeline"][-1]["reason"] == "CANCELED_BY_USER"
            assert m["queue_position"] is None and m["expected_send_at"] is None
        # then: a second cancel answers the canceled message; a delivered one cannot be canceled
        status, body = await cancel(org, later)
        assert status == 200 and body["data"]["status"] == "canceled", body
        status, body = await cancel(org, ids[0])
        assert status == 409 and body["error"]["code"] == "MESSAGE_NOT_CANCELABLE", body
        assert body["error"]["details"]["status"] == "delivered"
        # another organization's message (or none) is 404
        other = await system.signup()
        status, body, _ = await system.call("POST", f"/v1/messages/{ids[1]}/cancel",
                                            key=other["api_key"]["secret"])
        assert status == 404 and body["error"]["code"] == "NOT_FOUND", body
        status, body = await cancel(org, "00000000-0000-4000-8000-000000000000")
        assert status == 404, body
        assert (await org.message(ids[1]))["status"] in ("queued", "sending", "sent", "delivered")

        # the credit ledger: each canceled message refunded once; the delivered one and the one still
        # queued stay spent / held
        price = Decimal("0.0079")

        async def settled() -> bool:
            return await refunded(org, ids[2]) and await refunded(org, later)

        await system.eventually(settled, timeout=10)
        assert await balance(org) == start - 2 * price
        entries = await ledger(org)
        assert sum(1 for e in entries if e["kind"] == "refund" and e["reference"] in (ids[2], later)) == 2
        # the status callback of the cancel is queued for the message's callback URL
        _, body, _ = await org.call("GET", f"/v1/messages/{ids[2]}/status-callbacks")
        assert [c["status"] for c in body["data"]][-1] == "canceled", body
        # and the queued message never reaches the handset
        await asyncio.sleep(0.5)
        assert "queued 2" not in await org.inbox(contact)


async def test_a_cancel_racing_the_dispatcher_either_cancels_or_is_refused(settings_env: dict[str, str]) -> None:
    """Cancels issued while the dispatcher takes the same messages: each message ends either canceled
    (and never reaches the handset) or sent on (and the cancel answered 409) — never both."""
    async with system_with(settings_env, number_throughput_mpm="600") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        ids = await org.sends(contact, [f"race {i}" for i in range(20)])
        answers = await asyncio.gather(*(cancel(org, mid) for mid in ids))
        final = await org.until_terminal(ids, timeout=30)
        for mid, (status, body) in zip(ids, answers, strict=True):
            if status == 200:
                assert final[mid]["status"] == "canceled", (body, final[mid])
            else:
                assert status == 409 and body["error"]["code"] == "MESSAGE_NOT_CANCELABLE", body
                assert final[mid]["status"] == "delivered", final[mid]
        await asyncio.sleep(0.5)
        got = await org.inbox(contact)
        assert sorted(t for t in got if t.startswith("race ")) == sorted(
            m["text"] for m in final.values() if m["status"] == "delivered")


async def test_releasing_a_number_cancels_its_pending_messages(settings_env: dict[str, str]) -> None:
    async with system_with(settings_env, number_throughput_mpm="1") as system:
        org = await onboard(system)
        contact = await org.new_contact()
        ids = await org.sends(contact, [f"pending {i}" for i in range(3)])
        status, body = await org.send(contact, text="later", send_at=rfc3339(utcnow() + timedelta(hours=2)))
        assert status == 202, body
        ids.append(body["data"]["id"])
        await org.until_terminal(ids[:1])
        before = await balance(org)

        status, body, _ = await org.call("DELETE", f"/v1/phone-numbers/{org.number_id}")
        assert status == 200, body

        final = await org.until_terminal(ids[1:])
        for mid in ids[1:]:
            m = final[mid]
            assert (m["status"], m["error_code"]) == ("canceled", "NUMBER_RELEASED"), m
            full = await org.message(mid)
            assert full["timeline"][-1]["reason"] == "NUMBER_RELEASED"

        async def all_refunded() -> bool:
            return all([await refunded(org, mid) for mid in ids[1:]])

        await system.eventually(all_refunded, timeout=10)
        assert await balance(org) == before + 3 * Decimal("0.0079")


async def test_turning_quiet_hours_off_releases_what_they_alone_held(system: System) -> None:
    now = utcnow()
    contact = next(n for n in QUIET_CANDIDATES
                   if not any(qh.is_open(qh.area_of(n), now + timedelta(minutes=m)) for m in (0, 1, 2)))
    org = await onboard(system, quiet_hours=True)
    await org.consent(contact)
    status, body = await org.send(contact, text="held by quiet hours")
    assert status == 202 and body["data"]["status"] == "scheduled", body
    held = body["data"]["id"]
    far = utcnow() + timedelta(days=3)
    status, body = await org.send(contact, text="held by its send_at", send_at=rfc3339(far))
    assert status == 202 and body["data"]["status"] == "scheduled", body
    own_time = body["data"]["id"]

    status, body, _ = await org.call("PATCH", "/v1/compliance/settings", json={"quiet_hours_enabled": False})
    assert status == 200, body

    final = (await org.until_terminal([held]))[held]
    assert final["status"] == "delivered", final
    reasons = [t["reason"] for t in (await org.message(held))["timeline"]]
    assert "quiet hours turned off" in reasons, reasons
    assert "held by quiet hours" in await org.inbox(contact)
    # a message waiting for its own send_at still waits for it
    m = await org.message(own_time)
    assert m["status"] == "scheduled" and m["expected_send_at"] == m["send_at"], m
