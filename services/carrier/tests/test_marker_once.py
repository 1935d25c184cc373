"""A submission's attempt marker is written once per attempt, against real PostgreSQL: while the SMSC
answers a submit_sm with "throttled", the ESME writes the same PDU again after each pause until the
attempt's deadline, and each try must not be another database write."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from libs.smpp import pdu
from libs.smpp.session import Session
from libs.testing.statements import counted_store
from proto.base import CommandError, new_id
from proto.commands.carrier import SubmitMessage
from services.carrier.adapters import SmppAdapter
from services.carrier.config import CarrierServiceSettings, SmppTarget, Timing
from services.carrier.esme import Esme
from services.carrier.handlers import Carrier

SQL = Path(__file__).parent.parent / "sql"
ORG = "00000000-0000-0000-0000-000000000001"


async def _deliver(_: pdu.Pdu, __: Session) -> int:
    return pdu.ESME_ROK


class ThrottlingSmsc:
    """A bound session whose SMSC answers every submit_sm with ESME_RTHROTTLED."""

    def __init__(self) -> None:
        self.writes = 0

    async def request(self, p: pdu.Pdu, timeout: float) -> pdu.Pdu:
        self.writes += 1
        return pdu.Pdu(pdu.SUBMIT_SM | pdu.RESP, status=pdu.ESME_RTHROTTLED)


def throttled_esme(smsc: ThrottlingSmsc) -> Esme:
    """One bound bind on ``smsc``, with a short first pause (it doubles on each throttled answer)."""
    esme = Esme(SmppTarget(host="127.0.0.1", port=1, system_id="am", password="pw"),
                Timing(throttle_backoff_s=0.01), _deliver)
    bind = esme.binds[0]
    bind.state, bind.session = "bound", cast(Session, smsc)
    return esme


async def test_a_throttled_attempt_writes_its_marker_once(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, statements):
        smsc = ThrottlingSmsc()
        carrier = Carrier(es, SmppAdapter(throttled_esme(smsc), submit_wait_s=1.0, response_timeout_s=1.0),
                          CarrierServiceSettings())
        mid = new_id()
        statements.clear()
        # when: a message is submitted while the SMSC throttles past the attempt's deadline
        with pytest.raises(CommandError) as e:
            await carrier.submit(SubmitMessage(org_id=ORG, message_id=mid, from_="+14155550100",
                                               to="+15550000001", text="hi"))
        # then: nothing left (503, retry), its marker was written once and is gone
        assert (e.value.code, e.value.status) == ("CARRIER_UNAVAILABLE", 503)
        marks = [s for s in statements.texts if s.startswith("INSERT INTO submissions")]
        assert smsc.writes >= 3  # (the same PDU was written again after each pause)
        assert len(marks) == 1, f"{len(marks)} marker writes"
        assert await es.pool.fetchval("SELECT count(*) FROM submissions WHERE message_id = $1::uuid", mid) == 0
