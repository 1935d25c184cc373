"""The group-committed writer of arriving messages: batches screened by compliance, then stored, each
stage in queue order, a batch screened while the one before it commits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from libs.runtime.batching import Batcher
from libs.store.eventstore import EventStore
from proto.base import Event
from proto.events.inbound import InboundMessageReceived
from services.inbound import store

Item = tuple[store.NewMessage, str, Event, int]
Screen = Callable[[list[InboundMessageReceived]], Awaitable[None]]


class Holds:
    """Which ingest calls store nothing now, so that a conversation's later texts never commit ahead of
    the retries of its earlier ones. A call (a consumer's batch, or one text going again one by one) is
    numbered when it starts. Once some texts of a call cannot be stored (their batch's screening or commit
    failed, or their route could not be asked), the bulk calls that started meanwhile are held back whole
    (they go again one by one, after the failed ones), and so is every bulk call that starts until the
    next one-by-one call: the consumer hands over no new batch while one goes one by one."""

    def __init__(self) -> None:
        self._calls = 0
        self._held: set[int] = set()
        self._single: set[int] = set()
        self._closed = False

    def start(self, one_by_one: bool = False) -> int:
        self._calls += 1
        if one_by_one:
            self._single.add(self._calls)
            self._closed = False
        elif self._closed:
            self._held.add(self._calls)
        return self._calls

    def held(self, call: int) -> bool:
        return call in self._held

    def hold_from(self, call: int) -> None:
        """Texts of ``call`` or after it failed: the bulk calls from it on store nothing now."""
        self._held.update(c for c in range(call, self._calls + 1) if c not in self._single)
        self._closed = True

    def end(self, call: int) -> None:
        self._held.discard(call)
        self._single.discard(call)


STALL_FORGET_S = 120.0
"""A stalled text not seen again for this long is forgotten (dead-lettered after its last delivery, or
taken by another replica): its conversation's later texts stop waiting for it. Four times the consumer's
longest nak delay (30 s)."""

STALL_MAX_WAITS = 10
"""A text waits behind an earlier one at most this many times (about two minutes of the consumer's
backoff), then is stored anyway: it must not reach the consumer's last delivery (dead-lettered) because
an earlier text keeps failing. Order is kept for a while, never at the price of a text."""


class Stalled:
    """Conversations with a text that could not be stored even one by one (it is nak'd and comes again
    after a delay): their later texts wait behind it, in the order they came, instead of being stored
    ahead of it. Kept in this replica's memory: best effort across a restart or between replicas.

    A conversation is (our number, the contact's number); a text is its carrier message id."""

    def __init__(self, forget_s: float = STALL_FORGET_S, max_waits: int = STALL_MAX_WAITS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._texts: dict[tuple[str, str], dict[str, list[float]]] = {}
        """Per conversation, its stalled texts in the order they came (the first is the one the others wait
        for), each with [when it was last seen, how many times it waited]."""
        self.forget_s = forget_s
        self.max_waits = max_waits
        self.clock = clock

    def __bool__(self) -> bool:
        return bool(self._texts)

    def must_wait(self, conversation: tuple[str, str], text: str) -> bool:
        """Whether ``text`` (going one by one) waits behind an earlier stalled text of its conversation;
        if so it is stalled too, behind the others."""
        self._forget_old()
        texts = self._texts.get(conversation)
        if not texts:
            return False
        seen = texts.setdefault(text, [0.0, 0])
        seen[0] = self.clock()
        if next(iter(texts)) == text or seen[1] >= self.max_waits:
            return False
        seen[1] += 1
        return True

    def waits(self, conversation: tuple[str, str]) -> bool:
        """Whether the conversation has stalled texts (a batch stores none of its texts: they go one by one)."""
        self._forget_old()
        return conversation in self._texts

    def failed(self, conversation: tuple[str, str], text: str) -> None:
        seen = self._texts.setdefault(conversation, {}).setdefault(text, [0.0, 0])
        seen[0] = self.clock()

    def done(self, conversation: tuple[str, str], text: str) -> None:
        texts = self._texts.get(conversation)
        if texts is not None and texts.pop(text, None) is not None and not texts:
            del self._texts[conversation]

    def _forget_old(self) -> None:
        if not self._texts:
            return
        old = self.clock() - self.forget_s
        for conversation, texts in list(self._texts.items()):
            for text in [t for t, (seen, _) in texts.items() if seen < old]:
                del texts[text]
            if not texts:
                del self._texts[conversation]


class IngestWriter:
    """Stores arriving messages with group commit: a callback waits for the commit of the batch it
    joined (nothing is acknowledged before it is durable), and a batch is one transaction that takes
    each organization's arrival-sequence row once. Per-message transactions would queue on that row
    lock one after another — a convoy that stalled ingestion well below 500 messages/s.

    Two batches are at work at once, in two ordered stages: compliance screens a batch while the batch
    before it commits. Each stage takes the batches in the order they were queued (screens in arrival
    order; arrival numbers in arrival order), and a batch commits only after the one before it. When a
    batch fails, what was queued behind it by calls started meanwhile is not stored (answered None, see
    ``Holds``): it must not commit ahead of the failed texts going again."""

    def __init__(self, es: EventStore, screen: Screen | None = None, max_batch: int = 200):
        self.es = es
        self.screen = screen
        """Read-your-consent: compliance records the messages' keyword effects before the batch's
        transaction, whose commit makes them visible (listed, waited for, pushed); when it fails, nothing
        of the batch is stored and the carrier retries."""
        self.holds = Holds()
        self._batcher: Batcher[Item, bool | None] = Batcher("ingest-writer", self._write, max_batch=max_batch,
                                                             workers=2)
        self._screened: asyncio.Future[None] | None = None
        """Done once the last batch taken has been screened (or failed to be)."""
        self._committed: asyncio.Future[None] | None = None
        """Done once the last batch taken has committed (or failed to)."""

    async def stop(self) -> None:
        await self._batcher.stop()

    def enqueue(self, message: store.NewMessage, stream: str, event: Event, call: int | None = None
                ) -> asyncio.Future[bool | None]:
        """Queued now for the ingest call ``call`` (``Holds``), written in queue order: True once stored and
        committed; False when that carrier message id was stored before; None when held back."""
        return self._batcher.enqueue((message, stream, event, self.holds.start() if call is None else call))

    async def _write(self, batch: list[Item]) -> list[bool | None]:
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
                routed = [ev for _, _, ev, call in batch
                          if isinstance(ev, InboundMessageReceived) and not self.holds.held(call)]
                if routed and self.screen is not None:
                    await self.screen(routed)
            finally:
                _done(mine_screened)
            if committed is not None:
                await asyncio.shield(committed)
            held = {m.message_id for m, _, _, call in batch if self.holds.held(call)}
            live = [(m, s, e) for m, s, e, _ in batch if m.message_id not in held]
            stored: dict[str, int] = {}
            if live:
                async with self.es.transaction() as conn:
                    stored = await store.store_messages(conn, self.es, live)
        except Exception:
            self.holds.hold_from(min(call for *_, call in batch))  # (before the next batch's turn to commit)
            raise
        finally:
            _done(mine_screened)
            _done(mine_committed)
        return [None if m.message_id in held else m.message_id in stored for m, _, _, _ in batch]


def _done(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)
