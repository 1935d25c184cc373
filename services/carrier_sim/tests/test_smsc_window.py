"""The simulator's SMSC keeps at most its window of deliver_sm unanswered: the rest wait in its queue and
go as answers come. (Without a window a slow ESME got every receipt at once, answered them late, and got
each again after the 10 s response timeout: a retransmission storm that only grew.)"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from libs.smpp import pdu
from libs.smpp.session import Session
from libs.testing import SLACK
from services.carrier_sim.smsc import Smsc


async def test_deliver_sm_outstanding_stay_within_the_window() -> None:
    smsc = Smsc(cast(Any, None), "sys", "pw", window=5)  # texts from handsets need no world
    port = await smsc.start("127.0.0.1", 0)
    held: asyncio.Queue[pdu.Pdu] = asyncio.Queue()

    async def esme(_: Session, p: pdu.Pdu) -> pdu.Pdu | None:
        if p.command_id == pdu.DELIVER_SM:
            await held.put(p)
            return None  # answered by the test, when it chooses
        return p.response()

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    session = Session(reader, writer, esme, "esme")
    reading = asyncio.create_task(session.run())
    try:
        resp = await session.request(pdu.Pdu(pdu.BIND_TRANSCEIVER, params={
            "system_id": "sys", "password": "pw", "system_type": "", "interface_version": 0x34, "addr_ton": 0,
            "addr_npi": 0, "address_range": ""}), 10)
        assert resp.status == pdu.ESME_ROK
        for k in range(40):
            smsc.deliver_mo({"from": f"+1305555{k:04d}", "to": "+12125550100", "text": f"hello {k}"})
        first = [await asyncio.wait_for(held.get(), 10) for _ in range(5)]
        await asyncio.sleep(0.5)  # time enough for more to come, were there no window
        assert held.empty() and len(smsc.backlog) == 35
        texts = []
        for p in first:
            session.respond(p.response(message_id=""))
            texts.append(p.octets("short_message"))
        while len(texts) < 40:  # each answer lets the next one go
            p = await asyncio.wait_for(held.get(), 10)
            texts.append(p.octets("short_message"))
            session.respond(p.response(message_id=""))
        assert sorted(texts) == sorted(f"hello {k}".encode() for k in range(40))
        assert smsc.flushers <= 5
    finally:
        await smsc.close()
        await session.close()
        reading.cancel()


async def test_stopping_closes_every_connection_and_ends_its_task() -> None:
    """A connection still open when the simulator stops (here one that never bound) is closed and its task
    ends, instead of being cancelled at the loop's end (which Python 3.11 logs as an error)."""
    smsc = Smsc(cast(Any, None), "sys", "pw")
    port = await smsc.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(5 * SLACK):  # until the server has taken the connection
        while not smsc.connections:
            await asyncio.sleep(0.02)
    [task] = smsc.connections.values()
    await smsc.close()
    assert task.done() and not task.cancelled() and not smsc.connections
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the ESME sees the connection end
    writer.close()
