"""Harness of outbound's integration tests: outbound against real NATS, Postgres, accounts, the gateway
and the carrier simulator, with numbers and compliance stood in by fakes that answer their commands on
NATS exactly as the contracts say (so this service's behaviour is pinned down whatever state the other
services are in)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client

from proto.base import NotFound
from proto.commands.compliance import EvaluateSend, EvaluateSends, SendDecision, SendOutcome, SendOutcomes
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.events import encode_event
from proto.events.carrier import ReceiptReceived
from proto.subjects import Subjects
from tests.system import ApiUser, System


@dataclass
class Fakes:
    """numbers.sender_status and compliance.evaluate_send(s), as the contracts define them."""

    senders: dict[tuple[str, str], SenderInfo] = field(default_factory=dict)
    opted_out: set[tuple[str, str]] = field(default_factory=set)
    no_consent: set[str] = field(default_factory=set)
    checks: list[EvaluateSend] = field(default_factory=list)
    submit_denied: set[str] = field(default_factory=set)
    submit_deferred: dict[str, str] = field(default_factory=dict)
    accept_deferred: dict[str, str] = field(default_factory=dict)

    async def sender_status(self, cmd: SenderStatus) -> SenderInfo:
        info = self.senders.get((cmd.org_id, cmd.e164))
        if info is None:
            raise NotFound("phone number")
        return info

    async def evaluate_send(self, cmd: EvaluateSend) -> SendDecision:
        self.checks.append(cmd)
        if (cmd.org_id, cmd.to) in self.opted_out and cmd.kind != "opt_out_confirmation":
            return SendDecision(decision="deny", code="RECIPIENT_OPTED_OUT", status=453,
                                reason="the recipient opted out; they must text START to opt back in")
        if cmd.to in self.no_consent:
            return SendDecision(decision="deny", code="CONSENT_REQUIRED", status=453,
                                reason="no consent on file; start a double opt-in")
        if cmd.stage == "accept" and cmd.to in self.accept_deferred:
            return SendDecision(decision="defer", defer_until=self.accept_deferred[cmd.to],
                                reason="quiet hours: the recipient's window opens later")
        if cmd.stage == "submit" and cmd.to in self.submit_denied:
            return SendDecision(decision="deny", code="RECIPIENT_OPTED_OUT", status=453, reason="opted out")
        if cmd.stage == "submit" and cmd.to in self.submit_deferred:
            return SendDecision(decision="defer", defer_until=self.submit_deferred[cmd.to], reason="quiet hours")
        return SendDecision(decision="allow", decision_id=str(uuid.uuid4()))

    async def evaluate_sends(self, cmd: EvaluateSends) -> SendOutcomes:
        return SendOutcomes(results=[SendOutcome(decision=await self.evaluate_send(x)) for x in cmd.sends])


@dataclass
class Pipe(ApiUser):
    system: System
    fakes: Fakes
    nc: Client
    subjects: Subjects
    key: str = ""
    org_id: str = ""
    number: str = ""

    async def carrier(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        assert self.system.http is not None
        async with self.system.http.request(method, f"{self.system.sim}/carrier/v1{path}", json=json, params=params,
                                            headers={"Authorization": "Bearer sim-dev-token"}) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def onboard(self, throughput_mpm: int = 4500, secrets: list[str] | None = None) -> None:
        data = await self.system.signup()
        self.key, self.org_id = data["api_key"]["secret"], data["organization"]["id"]
        found = await self.carrier("GET", "/available-numbers", params={"area_code": "415", "quantity": "30"})
        for n in found["numbers"]:  # tests share the simulator: take one nobody holds yet
            try:
                await self.carrier("POST", "/numbers/assign", json={"numbers": [n["e164"]], "account_ref": self.org_id})
            except AssertionError:
                continue
            self.number = n["e164"]
            break
        self.fakes.senders[(self.org_id, self.number)] = SenderInfo(
            phone_number_id=str(uuid.uuid4()), e164=self.number, sending_enabled=True, campaign_id=str(uuid.uuid4()),
            throughput_mpm=throughput_mpm, webhook_secrets=secrets or [])

    async def inbox(self, handset: str) -> list[dict[str, Any]]:
        status, body, _ = await self.system.call("GET", f"/sim/handsets/{handset}/messages")
        assert status == 200
        return [m for m in body["data"] if m["from"] == self.number]

    async def receipt(self, mid: str, cid: str, status: str, error_code: str = "") -> None:
        """A receipt as the carrier service publishes it (ReceiptReceived on the carrier stream)."""
        ev = ReceiptReceived(org_id=self.org_id, message_id=mid, carrier_message_id=cid, status=status,
                             error_code=error_code, done_at="2026-06-11T12:00:00.000Z")
        await self.nc.jetstream().publish(self.subjects.of(type(ev), self.org_id),
                                          encode_event(ev), headers={"Nats-Msg-Id": ev.event_id})

    async def receipt_effects(self, cid: str) -> list[str]:
        """What outbound made of the receipts it got with this carrier id, in order."""
        rows = await self.system.services["outbound"].pool.fetch(
            "SELECT effect FROM receipts WHERE carrier_message_id = $1 ORDER BY id", cid)
        return [r["effect"] for r in rows]

    async def balance(self) -> str:
        _, body, _ = await self.call("GET", "/v1/balance")
        return str(body["data"]["balance"])


def sign_sim(secret: str, t: int, body: bytes) -> str:
    """The carrier's X-Sim-Signature (sim_contract.md)."""
    return f"t={t},v1={hmac.new(secret.encode(), f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"


def handset() -> str:
    return f"+1555{uuid.uuid4().int % 10_000_000:07d}"


async def balance_is(pipe: Pipe, expected: str) -> bool:
    return await pipe.balance() == expected


async def status_is(p: Pipe, mid: str, status: str) -> bool:
    return (await p.message(mid))["status"] == status


async def has(items: list[Any], n: int) -> bool:
    return len(items) >= n
