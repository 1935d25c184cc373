"""The group-committed writer of arriving messages: batches screened by compliance, then stored, each
stage in queue order, a batch screened while the one before it commits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from libs.runtime.batching import Batcher
from libs.store.eventstore import EventStore
from proto.base import Event
from proto.events.inbound import InboundMessageReceived
from services.inbound import store

Screen = Callable[[list[InboundMessageReceived]], Awaitable[None]]


class IngestWriter:
    """Stores arriving messages with group commit: a callback waits for the commit of the batch it
    joined (nothing is acknowledged before it is durable), and a batch is one transaction that takes
    each organization's arrival-sequence row once. Per-message transactions would queue on that row
    lock one after another — a convoy that stalled ingestion well below 500 messages/s.

    Two batches are at work at once, in two ordered stages: compliance screens a batch while the batch
    before it commits. Each stage takes the batches in the order they were queued (screens in arrival
    order; arrival numbers in arrival order), and a batch commits only after the one before it."""

    def __init__(self, es: EventStore, screen: Screen | None = None, max_batch: int = 200):
        self.es = es
        self.screen = screen
        """Read-your-consent: compliance records the messages' keyword effects before the batch's
        transaction, whose commit makes them visible (listed, waited for, pushed); when it fails, nothing
        of the batch is stored and the carrier retries."""
        self._batcher = Batcher("ingest-writer", self._write, max_batch=max_batch, workers=2)
        self._screened: asyncio.Future[None] | None = None
        """Done once the last batch taken has been screened (or failed to be)."""
        self._committed: asyncio.Future[None] | None = None
        """Done once the last batch taken has committed (or failed to)."""

    async def stop(self) -> None:
        await self._batcher.stop()

    def enqueue(self, message: store.NewMessage, stream: str, event: Event) -> asyncio.Future[bool]:
        """Queued now, written in queue order: True once stored and committed; False when that carrier
        message id was stored before."""
        return self._batcher.enqueue((message, stream, event))

    async def _write(self, batch: list[tuple[store.NewMessage, str, Event]]) -> list[bool]:
        # (the turns are taken before the first wait: in the order the workers took the batches)
        loop = asyncio.get_running_loop()
        screened, self._screened = self._screened, loop.create_future()
        committed, self._committed = self._committed, loop.create_future()
        mine_screened, mine_committed = self._screened, self._committed
        try:
            # compliance first, holding no lock (an organization's arrival sequence is locked from the
            # insert to the commit); a retried callback's message is screened again, a no-op (same event id)
            if screened is not None:
                await asyncio.shield(screened)
            try:
                routed = [ev for _, _, ev in batch if isinstance(ev, InboundMessageReceived)]
                if routed and self.screen is not None:
                    await self.screen(routed)
            finally:
                _done(mine_screened)
            if committed is not None:
                await asyncio.shield(committed)
            async with self.es.transaction() as conn:
                stored = await store.store_messages(conn, self.es, batch)
        finally:
            _done(mine_screened)
            _done(mine_committed)
        return [m.message_id in stored for m, _, _ in batch]


def _done(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)
