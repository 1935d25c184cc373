"""A submission's attempt marker is written once per attempt, against real PostgreSQL: while the SMSC
throttles (its pause outlasting the attempt's wait), the ESME tries its binds again and again until the
attempt's deadline, and each try must not be another database write (the marker is written before a
window slot is taken, so every try would be one)."""

from __future__ import annotations

import time
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


async def _deliver(_: pdu.Pdu) -> int:
    return pdu.ESME_ROK


def throttled_esme() -> Esme:
    """One bound bind, paused by the SMSC's throttling for longer than any attempt waits."""
    esme = Esme(SmppTarget(host="127.0.0.1", port=1, system_id="am", password="pw"), Timing(), _deliver)
    bind = esme.binds[0]
    bind.state, bind.session = "bound", cast(Session, object())
    bind.paused_until = time.monotonic() + 3600
    return esme


async def test_a_throttled_attempt_writes_its_marker_once(database_url: str, subject_root: str) -> None:
    async with counted_store(database_url, subject_root, "carrier", SQL) as (es, statements):
        carrier = Carrier(es, SmppAdapter(throttled_esme(), submit_wait_s=1.0, response_timeout_s=1.0),
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
        assert len(marks) == 1, f"{len(marks)} marker writes"
        assert await es.pool.fetchval("SELECT count(*) FROM submissions WHERE message_id = $1::uuid", mid) == 0
