"""An inbound deliver_sm identical to a recent one: a repeat (the SMSC resending it) unless the earlier one
was a whole text answered in time on a session still open — then the SMSC had our answer and sends no
copy, so it is the contact's new text with the same words. Real PostgreSQL; the sessions stand in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from libs.obs.settings import load_settings
from libs.smpp import pdu
from libs.smpp.session import Session
from libs.testing.stores import migrated_store
from services.carrier.adapters import Adapter
from services.carrier.config import CarrierServiceSettings
from services.carrier.handlers import Carrier

SQL = Path(__file__).parent.parent / "sql"


class Link:
    def __init__(self) -> None:
        self.closed = asyncio.Event()


def mo(text: str, src: str = "15551230001") -> pdu.Pdu:
    params: dict[str, Any] = {
        "service_type": "", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": src, "dest_addr_ton": 1,
        "dest_addr_npi": 1, "destination_addr": "14155550100", "esm_class": 0, "protocol_id": 0, "priority_flag": 0,
        "schedule_delivery_time": "", "validity_period": "", "registered_delivery": 0,
        "replace_if_present_flag": 0, "data_coding": 0, "sm_default_msg_id": 0, "short_message": text.encode()}
    return pdu.Pdu(pdu.DELIVER_SM, params=params)


async def test_the_same_text_again_is_new_only_after_an_answer_in_time_on_an_open_session(
        database_url: str, subject_root: str) -> None:
    async with migrated_store(database_url, subject_root, "carrier", SQL) as es:
        async def texts() -> int:
            n: int = await es.pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'InboundTextReceived'")
            return n

        adapter = cast(Adapter, SimpleNamespace(resubmit_safe=False))
        # ("in time" generous: a loaded machine's slow answer still counts as prompt)
        carrier = Carrier(es, adapter, load_settings(CarrierServiceSettings, {"AM_MO_ANSWERED_IN_TIME_S": "60"}))
        late = Carrier(es, adapter, load_settings(CarrierServiceSettings, {"AM_MO_ANSWERED_IN_TIME_S": "0"}))
        try:
            a, b = Link(), Link()
            # the contact texts "ok" twice on one open session: both are texts
            assert await carrier.deliver_sm(mo("ok"), cast(Session, a)) == pdu.ESME_ROK
            await carrier.deliver_sm(mo("ok"), cast(Session, a))
            assert await texts() == 2
            # two at once (the second while the first is still being recorded): the SMSC is still waiting
            # for the first answer, it is not resending: both are texts
            await asyncio.gather(carrier.deliver_sm(mo("no", src="15551230009"), cast(Session, a)),
                                 carrier.deliver_sm(mo("no", src="15551230009"), cast(Session, a)))
            assert await texts() == 4
            # that session closed (the answer may not have reached the SMSC): the copy on the next is a repeat
            a.closed.set()
            await carrier.deliver_sm(mo("ok"), cast(Session, b))
            assert await texts() == 4
            # an answer too late for the SMSC's timeout: the same PDU again is its resend, a repeat
            await late.deliver_sm(mo("yes", src="15551230002"), cast(Session, b))
            await late.deliver_sm(mo("yes", src="15551230002"), cast(Session, b))
            assert await texts() == 5
            # a PDU arriving with no session known (not over SMPP) keeps the window's rule
            await carrier.deliver_sm(mo("?", src="15551230003"))
            await carrier.deliver_sm(mo("?", src="15551230003"))
            assert await texts() == 6
        finally:
            await carrier.close()
            await late.close()
