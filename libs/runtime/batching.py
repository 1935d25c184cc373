"""Group commit: many small requests served by one round trip each batch.

Callers queue an item and wait. ``workers`` tasks each take up to ``max_batch`` waiting items and hand
them to ``flush``, which answers with one result per item, in order; if it raises, every item of that
batch fails with the error. While one batch is in flight the next one gathers, so under load the
batches grow and the round trips per item fall, and when idle an item goes out at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(self, name: str, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 200,
                 workers: int = 1):
        self.name = name
        self.flush = flush
        self.max_batch = max_batch
        self.workers = workers
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(), name=f"{self.name}-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        """Cancel the workers (a batch in flight rolls back) and fail whatever still waits."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks = []
        queued, self._queue = self._queue, []
        _fail(queued, RuntimeError(f"{self.name} stopped"))

    async def submit(self, item: T) -> R:
        """The item's result, once the batch it joined has been flushed."""
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Queue the item now (items are flushed in the order they were queued); its result comes on the
        future once the batch it joined has been flushed."""
        self.start()
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        self._wake.set()
        return fut

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            await _answer(self.name, self.flush, batch)


async def _answer(name: str, flush: Callable[[list[T]], Awaitable[Sequence[R]]],
                  batch: list[tuple[T, asyncio.Future[R]]]) -> None:
    """Flush one batch and answer whoever waits on it: each its own result, or all the flush's error."""
    try:
        results = await flush([item for item, _ in batch])
    except asyncio.CancelledError:  # stopping: whoever waits on this batch hears so
        _fail(batch, RuntimeError(f"{name} stopped"))
        raise
    except Exception as exc:
        log.warning("batch_failed", batcher=name, batch=len(batch), error=repr(exc))
        _fail(batch, exc)
        return
    for (_, fut), result in zip(batch, results, strict=True):
        if not fut.done():
            fut.set_result(result)


def _fail(batch: list[tuple[T, asyncio.Future[R]]], exc: BaseException) -> None:
    for _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)


class Coalescer(Generic[T, R]):
    """Items queued during one pass of the event loop go out together, as one batch handed to ``flush``
    at once — never waiting for the batch before, as a ``Batcher``'s workers do. For requests whose answers
    take long and vary (a carrier's acknowledgement): a slow item holds up only the items of its own batch,
    and the batches are what became ready together (the messages of one committed step, resumed in one
    pass)."""

    def __init__(self, name: str, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 200):
        self.name = name
        self.flush = flush
        self.max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._flushing: dict[asyncio.Task[None], list[tuple[T, asyncio.Future[R]]]] = {}

    async def submit(self, item: T) -> R:
        """The item's result, once the batch it joined has been answered."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, fut))
        if not self._scheduled:  # after every callback already ready in this pass: they join this batch
            self._scheduled = True
            loop.call_soon(self._go)
        return await fut

    def _go(self) -> None:
        self._scheduled = False
        queued, self._queue = self._queue, []
        for i in range(0, len(queued), self.max_batch):
            batch = queued[i:i + self.max_batch]
            task = asyncio.get_running_loop().create_task(_answer(self.name, self.flush, batch),
                                                          name=f"{self.name}-flush")
            self._flushing[task] = batch
            task.add_done_callback(lambda t: self._flushing.pop(t, None))

    async def stop(self) -> None:
        """Cancel the batches in flight (those not yet started too) and fail whoever still waits."""
        flushing, self._flushing = self._flushing, {}
        for t in flushing:
            t.cancel()
        await asyncio.gather(*flushing, return_exceptions=True)
        queued, self._queue = self._queue, []
        for batch in [*flushing.values(), queued]:
            _fail(batch, RuntimeError(f"{self.name} stopped"))
