"""One SMPP connection on asyncio streams, either side: PDU framing, sequence numbers, requests
matched to their responses (or a generic_nack), requests from the peer handed to a handler in tasks of
their own, and every waiting request failed at once when the connection ends.

``request`` tells a caller whether its PDU left: ``NotSent`` (nothing was written: safe to send again)
versus ``LostAfterWrite`` (written, then the connection ended before an answer: the peer may have it)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable

import structlog

from libs.smpp import pdu

log = structlog.get_logger(__name__)

RequestHandler = Callable[["Session", pdu.Pdu], Awaitable[pdu.Pdu | None]]


class NotSent(Exception):
    """The PDU was not written: the connection was already gone."""


class LostAfterWrite(Exception):
    """The PDU was written and the connection ended (or the answer timed out) before its response."""


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_request: RequestHandler,
                 name: str = "smpp"):
        self.reader = reader
        self.writer = writer
        self.on_request = on_request
        self.name = name
        self._seq = itertools.count(1)
        self._pending: dict[int, asyncio.Future[pdu.Pdu]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self.last_read = time.monotonic()

    def next_sequence(self) -> int:
        n = next(self._seq)
        if n > 0x7FFFFFFF:
            self._seq = itertools.count(2)
            n = 1
        return n

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def _write(self, p: pdu.Pdu) -> None:
        if self.closed.is_set() or self.writer.is_closing():
            raise NotSent("connection closed")
        self.writer.write(pdu.encode(p))

    async def request(self, p: pdu.Pdu, timeout: float) -> pdu.Pdu:
        """Send a request and wait for its response (a generic_nack answers too)."""
        p.sequence = self.next_sequence()
        fut: asyncio.Future[pdu.Pdu] = asyncio.get_running_loop().create_future()
        self._pending[p.sequence] = fut
        try:
            self._write(p)
        except NotSent:
            self._pending.pop(p.sequence, None)
            raise
        try:
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            raise LostAfterWrite(f"no answer to {p.name} within {timeout:g} s") from exc
        finally:
            self._pending.pop(p.sequence, None)

    def respond(self, p: pdu.Pdu) -> None:
        with contextlib.suppress(NotSent, ConnectionError):
            self._write(p)

    async def run(self) -> None:
        """Read until the connection ends; then fail every waiting request."""
        try:
            while True:
                head = await self.reader.readexactly(16)
                length = int.from_bytes(head[:4], "big")
                if length < 16 or length > pdu.MAX_PDU:
                    log.warning("smpp_bad_length", session=self.name, length=length)
                    self.respond(pdu.Pdu(pdu.GENERIC_NACK, int.from_bytes(head[12:16], "big"),
                                         pdu.ESME_RINVCMDLEN))
                    break
                data = head + await self.reader.readexactly(length - 16)
                self.last_read = time.monotonic()
                try:
                    p = pdu.decode(data)
                except pdu.PduError as exc:
                    log.warning("smpp_undecodable", session=self.name, error=str(exc))
                    self.respond(pdu.Pdu(pdu.GENERIC_NACK, int.from_bytes(head[12:16], "big"), exc.status))
                    continue
                if p.is_response:
                    fut = self._pending.get(p.sequence)
                    if fut is not None and not fut.done():
                        fut.set_result(p)
                    elif p.command_id != pdu.GENERIC_NACK:
                        log.warning("smpp_unexpected_response", session=self.name, pdu=p.name, sequence=p.sequence)
                    continue
                task = asyncio.create_task(self._handle(p))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._lost()

    async def _handle(self, p: pdu.Pdu) -> None:
        try:
            answer = await self.on_request(self, p)
        except Exception as exc:  # the peer hears a system error rather than nothing
            log.exception("smpp_request_failed", session=self.name, pdu=p.name, error=repr(exc))
            answer = p.response(pdu.ESME_RSYSERR) if p.command_id in pdu.NAMES else None
        if answer is not None:
            self.respond(answer)

    def _lost(self) -> None:
        self.closed.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(LostAfterWrite("connection lost before the answer"))
        self._pending.clear()
        with contextlib.suppress(Exception):
            self.writer.close()

    async def close(self) -> None:
        self._lost()
        for t in list(self._tasks):
            t.cancel()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
