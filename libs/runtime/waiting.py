"""Waiting for a wake-up without losing a cancellation.

On Python 3.11 ``asyncio.wait_for(event.wait(), t)`` returns normally when the task is cancelled at the
moment the event is set: the cancellation is swallowed, and a background loop that was told to stop
goes round again and never stops (a service's shutdown then hangs). ``asyncio.timeout`` does not lose
it, so the loops wait with this."""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set (True) or ``timeout`` seconds pass (False)."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
