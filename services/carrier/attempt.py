"""One attempt at a submission and its marker (``submissions`` state ``writing``): committed once, right
before the first byte of the message may leave, and kept fresh for as long as the attempt is at work —
a long text's parts each wait for a window slot and their answer, so the whole can take longer than one
attempt window. Another attempt finding the marker younger than that window answers "under way"; an
attempt that stopped (its replica died) stops refreshing it, and it ages out one window later."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import structlog

from libs.store.eventstore import EventStore
from proto.base import new_id
from proto.commands.carrier import SubmitMessage
from services.carrier import store
from services.carrier.adapters import Adapter, Elsewhere

log = structlog.get_logger(__name__)


@dataclass
class Attempt:
    es: EventStore
    cmd: SubmitMessage
    adapter: Adapter
    window_s: float
    mark: Callable[[store.Marker], Awaitable[bool]]
    """Commits a marker (with others written at the same moment); answers whether this attempt holds it."""
    token: str = field(default_factory=new_id)
    """This attempt's marker: written, refreshed and cleared by this attempt only."""
    marked: bool = False
    _fresh: asyncio.Task[None] | None = None

    async def about_to_write(self, parts: int) -> None:
        """Once per attempt: the ESME asks again each time it tries a bind (every few ms while the SMSC
        throttles), and the first write stands for them all, kept fresh from then on."""
        if self.marked:
            return
        mid = self.cmd.message_id
        if not await self.mark(store.Marker(mid, self.cmd.org_id, self.adapter.name, parts, self.token)):
            raise Elsewhere(mid)
        self.marked = True
        self._fresh = asyncio.create_task(self._keep_fresh(), name=f"marker-{mid}")

    async def _keep_fresh(self) -> None:
        """Every third of the window while the attempt lasts: its marker is never older than the window."""
        while True:
            await asyncio.sleep(self.window_s / 3)
            try:
                async with self.es.pool.acquire() as c:
                    await store.refresh_writing(c, self.cmd.message_id, self.token)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("submission_marker_refresh_failed", message_id=self.cmd.message_id, error=repr(exc))

    async def clear(self) -> None:
        """Nothing left after all: this attempt's marker goes (if it wrote one)."""
        if self.marked:
            async with self.es.pool.acquire() as c:
                await store.clear_writing(c, self.cmd.message_id, self.token)

    def over(self) -> None:
        """The attempt ended (its outcome recorded, or it stopped): its marker is no longer refreshed."""
        if self._fresh is not None:
            self._fresh.cancel()
