"""A submission's attempt marker is written inside its window slot, once the bind is about to write: a
submission still waiting for a slot has no marker, so a crash of the process then leaves nothing that a
retry would have to take for "maybe sent" (recorded unconfirmed, and failed for good, though nothing left)."""

from __future__ import annotations

import asyncio
import time

import pytest

from libs.smpp import pdu
from services.carrier.config import SmppTarget, Timing
from services.carrier.esme import Bind, Unavailable


async def _deliver(_: pdu.Pdu) -> int:
    return pdu.ESME_ROK


async def test_a_submission_waiting_for_a_window_slot_has_no_marker() -> None:
    bind = Bind("trx1", "trx", SmppTarget(host="127.0.0.1", port=1, system_id="am", password="pw", window=1),
                Timing(), _deliver, lambda: None)
    await bind.window.acquire()  # given: the bind's only slot is held by another submission
    marked = asyncio.Event()

    async def about_to_write() -> None:
        marked.set()

    # when: a submission comes and waits for the slot until its deadline
    task = asyncio.create_task(bind.submit(pdu.Pdu(pdu.SUBMIT_SM), time.monotonic() + 1.0, about_to_write))
    try:
        with pytest.raises(Unavailable, match="window"):
            await task
    finally:
        bind.window.release()
    # then: it gave up without a marker (nothing could have left)
    assert not marked.is_set()
