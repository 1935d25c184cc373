"""One SMPP session's mechanics over a real socket: requests matched to responses, a generic_nack for
what cannot be read or is not supported, and every waiting request failed when the connection ends —
telling "not sent" from "sent, no answer"."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from libs.smpp import pdu
from libs.smpp.session import LostAfterWrite, NotSent, Session
from libs.testing import SLACK


async def _answer(_: Session, p: pdu.Pdu) -> pdu.Pdu | None:
    if p.command_id == pdu.ENQUIRE_LINK:
        return p.response()
    if p.command_id == pdu.SUBMIT_SM:
        if p.octets("short_message") == b"hold":
            return None  # never answered
        return p.response(message_id="m-" + p.octets("short_message").decode())
    return pdu.Pdu(pdu.GENERIC_NACK, p.sequence, pdu.ESME_RINVCMDID)


@contextlib.asynccontextmanager
async def pair() -> AsyncIterator[tuple[Session, Session, asyncio.StreamWriter]]:
    served: asyncio.Queue[Session] = asyncio.Queue()

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        s = Session(r, w, _answer, "server")
        await served.put(s)
        await s.run()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    client = Session(r, w, _answer, "client")
    reading = asyncio.create_task(client.run())
    srv = await served.get()
    try:
        yield client, srv, w
    finally:
        await client.close()
        await srv.close()
        reading.cancel()
        server.close()


async def test_requests_are_matched_to_their_responses() -> None:
    async with pair() as (client, _, _):
        answers = await asyncio.gather(*(client.request(pdu.Pdu(pdu.SUBMIT_SM, params={
            "short_message": str(i).encode()}), 5) for i in range(20)))
        assert [a.text("message_id") for a in answers] == [f"m-{i}" for i in range(20)]
        assert (await client.request(pdu.Pdu(pdu.ENQUIRE_LINK), 5)).command_id == pdu.ENQUIRE_LINK | pdu.RESP


async def test_unsupported_and_unreadable_pdus_get_a_generic_nack() -> None:
    async with pair() as (client, _, writer):
        nack = await client.request(pdu.Pdu(pdu.OUTBIND, params={"system_id": "x", "password": "y"}), 5)
        assert (nack.command_id, nack.status) == (pdu.GENERIC_NACK, pdu.ESME_RINVCMDID)
        # a submit_sm whose short_message runs past the PDU
        bad = bytearray(pdu.encode(pdu.Pdu(pdu.SUBMIT_SM, 77, params={"short_message": b"abc"})))
        bad[-4] = 200  # sm_length says 200 octets
        fut: asyncio.Future[pdu.Pdu] = asyncio.get_running_loop().create_future()
        client._pending[77] = fut
        writer.write(bytes(bad))
        answer = await asyncio.wait_for(fut, 5 * SLACK)
        assert (answer.command_id, answer.status, answer.sequence) == (pdu.GENERIC_NACK, pdu.ESME_RINVCMDLEN, 77)


async def test_lost_connection_fails_what_waits_and_refuses_what_is_new() -> None:
    async with pair() as (client, server, _):
        waiting = asyncio.create_task(client.request(pdu.Pdu(pdu.SUBMIT_SM, params={"short_message": b"hold"}), 30))
        while not client.outstanding:
            await asyncio.sleep(0.01)
        await server.close()
        with pytest.raises(LostAfterWrite):
            await waiting  # written, then no answer: the peer may have it
        await client.closed.wait()
        with pytest.raises(NotSent):
            await client.request(pdu.Pdu(pdu.ENQUIRE_LINK), 1)  # nothing written: safe to send again


async def test_no_answer_in_time_is_lost_after_write() -> None:
    async with pair() as (client, _, _):
        with pytest.raises(LostAfterWrite):
            await client.request(pdu.Pdu(pdu.SUBMIT_SM, params={"short_message": b"hold"}), 0.2)
