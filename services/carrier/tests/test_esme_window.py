"""A submission's attempt marker is written before it takes one of the bind's window slots: a slot is
held for the SMSC's answer only, not for the marker's database round trip as well (which, inside the slot,
capped a bind at window ÷ that round trip)."""

from __future__ import annotations

import asyncio
import time

import pytest

from libs.smpp import pdu
from services.carrier.config import SmppTarget, Timing
from services.carrier.esme import Bind, Unavailable


async def _deliver(_: pdu.Pdu) -> int:
    return pdu.ESME_ROK


async def test_the_marker_is_written_before_a_window_slot_is_taken() -> None:
    bind = Bind("trx1", "trx", SmppTarget(host="127.0.0.1", port=1, system_id="am", password="pw", window=1),
                Timing(), _deliver, lambda: None)
    await bind.window.acquire()  # given: the bind's only slot is held by another submission
    marked = asyncio.Event()

    async def about_to_write() -> None:
        marked.set()

    # when: a submission comes
    task = asyncio.create_task(bind.submit(pdu.Pdu(pdu.SUBMIT_SM), time.monotonic() + 30, about_to_write))
    try:
        # then: its marker is written while it still waits for a slot
        await asyncio.wait_for(marked.wait(), 20)
        assert bind.in_window == 0 and not task.done()
    finally:
        bind.window.release()
    with pytest.raises(Unavailable):  # (this bind never bound: nothing leaves)
        await task
