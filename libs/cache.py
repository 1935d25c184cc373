"""The TTL cache with event eviction: remember an answer another service gave for a short while, and
forget it the moment an event says it changed. One implementation for every service's lookup caches
(the gateway's keys and sessions, the sending-number state of outbound and compliance, inbound's number
routes, outbound's signing secrets).

- An entry lives ``ttl_s`` (or its own, shorter, ``ttl_s``) on a monotonic clock; past it ``get`` misses.
- Bounded: at ``max_entries`` the oldest half is dropped (insertion order), so a flood of keys costs
  memory once, never without end.
- Groups: with ``group=`` every key belongs to a group (an organization) that can be evicted at once.
- No stale fill: :meth:`TtlCache.load` notes the group's *generation* before asking; an eviction while
  the answer was on its way bumps it, and the answer is then returned but not kept (it may predate
  the event). Concurrent loads of one key share one call (single flight).
- :func:`evict_on` subscribes (core NATS, every replica hears it) and runs an eviction per event; a
  failing eviction is logged, never raised into the subscription.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float, *, max_entries: int = 50_000, group: Callable[[K], Hashable] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        """How long an entry is kept; 0 (or less) keeps nothing."""
        self.max_entries = max(2, max_entries)
        self._group = group
        self._clock = clock
        self._entries: dict[K, tuple[V, float]] = {}
        self._members: dict[Hashable, set[K]] = {}
        self._generations: dict[Hashable, int] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._counter = 0
        self._floor = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The live value of ``key``, or None."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[1] <= self._clock():
            self._drop(key)
            return None
        return hit[0]

    def take(self, key: K) -> V | None:
        """The live value of ``key``, forgotten: a hand-off used once."""
        value = self.get(key)
        self._drop(key)
        return value

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        """Keep ``value`` for ``ttl_s`` (default: the cache's; never longer than the cache's)."""
        ttl = self.ttl_s if ttl_s is None else min(ttl_s, self.ttl_s)
        if ttl <= 0:
            return
        if key not in self._entries and len(self._entries) >= self.max_entries:
            for old in list(self._entries)[: self.max_entries // 2]:
                self._drop(old)
        self._entries[key] = (value, self._clock() + ttl)
        if self._group is not None:
            self._members.setdefault(self._group(key), set()).add(key)

    def generation(self, key: K) -> int:
        """A ticket for :meth:`put_if_current`: changes whenever ``key`` or its group is evicted."""
        return self._generations.get(self._group_of(key), self._floor)

    def put_if_current(self, key: K, value: V, generation: int, ttl_s: float | None = None) -> bool:
        """Keep ``value`` only if nothing evicted ``key`` (or its group) since :meth:`generation` was
        taken — an answer asked for before an event may be older than the event."""
        if self.generation(key) != generation:
            return False
        self.put(key, value, ttl_s)
        return True

    async def load(self, key: K, fetch: Callable[[], Awaitable[V]], keep: Callable[[V], bool] = lambda _: True,
                   ) -> V:
        """The cached value, or ``fetch()``'s — kept when ``keep(value)`` and no eviction came meanwhile.
        Concurrent loads of one key wait for the same fetch (its error reaches them all)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = fut
        generation = self.generation(key)
        try:
            value = await fetch()
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        except BaseException:
            fut.cancel()
            raise
        finally:
            self._loading.pop(key, None)
        if keep(value):
            self.put_if_current(key, value, generation)
        fut.set_result(value)
        return value

    # -- eviction ----------------------------------------------------------------------------------
    def evict(self, key: K) -> None:
        self._bump(self._group_of(key))
        self._drop(key)

    def evict_group(self, group: Hashable) -> None:
        """Forget every key of ``group`` (needs ``group=``)."""
        self._bump(group)
        for key in list(self._members.get(group, ())):
            self._drop(key)

    def evict_where(self, stale: Callable[[V], bool]) -> int:
        """Forget every entry whose value is ``stale``; how many were. Loads under way are not kept either
        (what they will answer cannot be judged yet, and may predate the event)."""
        keys = [k for k, (v, _) in self._entries.items() if stale(v)]
        for key in [*keys, *self._loading]:
            self.evict(key)
        return len(keys)

    def clear(self) -> None:
        """Forget everything; loads under way are not kept."""
        self._entries.clear()
        self._members.clear()
        self._generations.clear()
        self._counter += 1
        self._floor = self._counter

    def _group_of(self, key: K) -> Hashable:
        return key if self._group is None else self._group(key)

    def _bump(self, group: Hashable) -> None:
        self._counter += 1
        if len(self._generations) >= 2 * self.max_entries:  # bounded too: forget it all, and make every
            self._entries.clear()                            # ticket taken so far stale (the floor)
            self._members.clear()
            self._generations.clear()
            self._floor = self._counter
        self._generations[group] = self._counter

    def _drop(self, key: K) -> None:
        if self._entries.pop(key, None) is not None and self._group is not None:
            group = self._group(key)
            members = self._members.get(group)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._members[group]


async def evict_on(nc: Client, subject: str, evict: Callable[[Msg], object]) -> Subscription:
    """Run ``evict(msg)`` for every message on ``subject`` (a core NATS subscription, so every replica
    hears every event). An eviction that raises is logged and the subscription goes on."""

    async def on_msg(msg: Msg) -> None:
        try:
            evict(msg)
        except Exception as exc:
            log.warning("cache_eviction_failed", subject=msg.subject, error=repr(exc))

    return await nc.subscribe(subject, cb=on_msg)
