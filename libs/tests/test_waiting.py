"""``woken``: a wait for a wake-up that times out, and never swallows a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from libs.runtime.waiting import woken


async def test_woken_by_the_event_or_the_timeout() -> None:
    ev = asyncio.Event()
    assert await woken(ev, 0.01) is False
    ev.set()
    assert await woken(ev, 1.0) is True


async def test_a_cancellation_arriving_with_the_wake_up_is_not_lost() -> None:
    # asyncio.wait_for on 3.11 returns normally here, and a loop told to stop goes round again
    ev = asyncio.Event()
    task = asyncio.create_task(woken(ev, 10))
    await asyncio.sleep(0)  # it waits now
    ev.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
