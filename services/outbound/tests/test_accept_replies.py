"""The accept path when compliance or accounts answers a batch request with a different number of results
than it asked (a peer of another version, a bug): every send of the batch gets a 503 to retry — never a
500, never another send's answer — and credit that may have been held is given back. Real NATS and
PostgreSQL; compliance, accounts and numbers are stand-ins answering on NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest

from libs.bus.rpc import RpcClient, RpcServer
from libs.testing.stores import migrated_store
from proto.base import CommandError, new_id, utcnow
from proto.commands import outbound as c
from proto.commands.accounts import (
    Reservation,
    ReservationOutcome,
    ReservationOutcomes,
    ReserveCredits,
    SettleCredit,
)
from proto.commands.compliance import EvaluateSends, SendDecision, SendOutcome, SendOutcomes
from proto.commands.numbers import SenderInfo, SenderStatus
from proto.subjects import Subjects
from services.outbound.accept import Accepting, Acceptor
from services.outbound.config import OutboundSettings
from services.outbound.senders import Senders

SQL = Path(__file__).parent.parent / "sql"
FROM = "+14155550100"


@dataclass
class Peers:
    """How many results too many (or too few) compliance and accounts answer."""

    gate_extra: int = 0
    credit_extra: int = 0
    released: list[str] = field(default_factory=list)

    async def sender(self, cmd: SenderStatus) -> SenderInfo:
        return SenderInfo(phone_number_id="pn-1", e164=cmd.e164, sending_enabled=True)

    async def gate(self, cmd: EvaluateSends) -> SendOutcomes:
        n = max(0, len(cmd.sends) + self.gate_extra)
        return SendOutcomes(results=[SendOutcome(decision=SendDecision(decision="allow")) for _ in range(n)])

    async def reserve(self, cmd: ReserveCredits) -> ReservationOutcomes:
        n = max(0, len(cmd.reservations) + self.credit_extra)
        r = cmd.reservations[0]
        return ReservationOutcomes(results=[ReservationOutcome(reservation=Reservation(
            reservation_id=r.reservation_id, amount_micros=r.amount_micros, state="held", balance_micros=10**9))
            for _ in range(n)])

    async def settle(self, cmd: SettleCredit) -> Reservation:
        self.released.append(cmd.reservation_id)
        return Reservation(reservation_id=cmd.reservation_id, amount_micros=0, state="released", balance_micros=0)


@pytest.fixture
async def world(database_url: str, nats_url: str, subject_root: str) -> AsyncIterator[tuple[Acceptor, Peers]]:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    peers = Peers()
    servers = [RpcServer(nc, subjects, f"fake-{name}") for name in ("numbers", "compliance", "accounts")]
    await servers[0].serve({SenderStatus: peers.sender})
    await servers[1].serve({EvaluateSends: peers.gate})
    await servers[2].serve({ReserveCredits: peers.reserve, SettleCredit: peers.settle})
    rpc = RpcClient(nc, subjects)
    settings = OutboundSettings()
    async with migrated_store(database_url, subject_root, "outbound", SQL) as es:
        acceptor = Acceptor(rpc, es, settings, Senders(rpc, settings.accept_sender_cache_s), lambda _: None,
                            lambda: False)
        yield acceptor, peers
        await acceptor.close()
    for s in servers:
        await s.close()
    await nc.close()


def sending(to: str) -> Accepting:
    org = "00000000-0000-0000-0000-000000000001"
    return Accepting(cmd=c.SendMessage(org_id=org, from_=FROM, to=to, text="hi"), message_id=new_id(), from_=FROM,
                     to=to, text="hi", send_at=None, validity=3600, callback_url=None, segments=1, encoding="GSM-7",
                     now=utcnow())


@pytest.mark.parametrize(("gate_extra", "credit_extra"), [(-1, 0), (1, 0), (0, -1), (0, 1)])
async def test_a_peer_answering_another_number_of_results_is_a_503_for_each_send(
        world: tuple[Acceptor, Peers], gate_extra: int, credit_extra: int) -> None:
    # given: compliance's gate or accounts' credit answering one result too few or too many
    acceptor, peers = world
    peers.gate_extra, peers.credit_extra = gate_extra, credit_extra
    # when: two sends are accepted
    sends = [sending("+15550000001"), sending("+15550000002")]
    answers = await asyncio.gather(*(acceptor.submit(a) for a in sends), return_exceptions=True)
    # then: each is a fault to retry; credit that may have been held is given back
    for a in answers:
        assert isinstance(a, CommandError), repr(a)
        assert (a.code, a.status) == ("SERVICE_UNAVAILABLE", 503)
    assert sorted(peers.released) == (sorted(a.message_id for a in sends) if credit_extra else [])
