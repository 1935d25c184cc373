"""What became of a text compliance recorded (a double opt-in's confirmation): outbound sends it because it
consumes the event, and says so on its own events — MessageQueued / MessageScheduled when it accepted the
message under the id compliance chose, ReplyRefused when it refused it. A request waits, bounded, for the
one about its own message, heard on core NATS (every replica hears every event), never by asking outbound."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import nats.errors
import structlog
from nats.aio.msg import Msg

from libs.runtime.service import Service
from libs.runtime.waiting import woken
from proto.base import CommandError
from proto.events import decode_event
from proto.events.outbound import MessageQueued, MessageScheduled, ReplyRefused

log = structlog.get_logger(__name__)

OUTCOMES = (MessageQueued, MessageScheduled, ReplyRefused)
"""The events that settle a recorded text: accepted (queued or scheduled), or refused."""


@dataclass
class Outcome:
    """Filled in by the first event about the message: ``accepted``, or ``refused`` with outbound's error."""

    message_id: str
    settled: asyncio.Event
    accepted: bool = False
    refused: CommandError | None = None

    def hear(self, msg: Msg) -> None:
        if self.settled.is_set() or self.message_id.encode() not in msg.data:  # the org's other messages
            return
        ev = decode_event(msg.data)
        if getattr(ev, "message_id", None) != self.message_id:
            return
        if isinstance(ev, ReplyRefused):
            self.refused = CommandError.from_body(ev.error)
        else:
            self.accepted = True
        self.settled.set()

    async def wait(self, timeout: float) -> bool:
        """True once settled; False when ``timeout`` seconds passed first."""
        return await woken(self.settled, timeout)


class Outcomes:
    def __init__(self, svc: Service):
        self.svc = svc  # (its connection is made at start)

    @asynccontextmanager
    async def watch(self, org_id: str, message_id: str) -> AsyncIterator[Outcome]:
        """Listen for the outcome of ``message_id`` (the organization's outcome events only) from before
        the text is recorded — the server has the subscriptions when this yields — until the block ends."""
        outcome = Outcome(message_id, asyncio.Event())

        async def on_msg(msg: Msg) -> None:
            try:
                outcome.hear(msg)
            except Exception as exc:  # one undecodable event must not end the wait badly: it times out
                log.warning("reply_outcome_unreadable", subject=msg.subject, error=repr(exc))

        subs = [await self.svc.nc.subscribe(self.svc.subjects.of(t, org_id), cb=on_msg) for t in OUTCOMES]
        try:
            await self.svc.nc.flush()
            yield outcome
        finally:
            for sub in subs:
                with contextlib.suppress(nats.errors.Error):  # the connection closed: the server forgot them
                    await sub.unsubscribe()
