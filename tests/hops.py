"""Where a latency goes, hop by hop: the times an item passed each point of its path, read afterwards.

Every event carries ``occurred_at`` (when the service built it) and JetStream stamps the time it stored it
(when the relay published it after commit), so reading the streams back after a measurement tells, for
each message, when it passed each service and each relay, without touching the system while it runs.
All on one machine: one wall clock. A hop's time is the difference between two consecutive points;
``report`` prints p50 / p99 per hop, so a 0.5 s tail is pinned on the hop that holds it.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from proto.base import Event
from proto.events import decode_event
from proto.subjects import Subjects


async def read_events(nc: Client, subjects: Subjects, domain: str, token: str,
                      since: float = 0.0) -> list[tuple[Event, float]]:
    """Every event of one type in a domain's stream stored from ``since`` (epoch seconds), with the time
    JetStream stored it (= the relay's publish)."""
    js = nc.jetstream()
    subject = f"{subjects.root}.{domain}.*.{token}.*"
    stream = subjects.stream_name(domain)
    info = await js.add_consumer(stream, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, filter_subject=subject,
        inactive_threshold=60.0))
    sub = await js.pull_subscribe_bind(consumer=info.name, stream=stream)
    out: list[tuple[Event, float]] = []
    try:
        left = info.num_pending or 0
        while left > 0:
            try:
                msgs = await sub.fetch(min(left, 1000), timeout=5)
            except NatsTimeout:
                break
            for m in msgs:
                left -= 1
                stored = m.metadata.timestamp.timestamp()
                if stored >= since:
                    out.append((decode_event(m.data), stored))
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, info.name)
    return out


Paths = dict[str, dict[str, float]]
"""Per item (keyed), the wall-clock time (epoch seconds) it passed each named point."""


def add(paths: Paths, events: Iterable[tuple[Event, float]], key: Callable[[Event], str], name: str,
        published: bool = True) -> None:
    """An event type's points: ``<name>`` (built: occurred_at) and ``<name> published`` (stored)."""
    for ev, stored in events:
        points = paths.setdefault(key(ev), {})
        points[name] = ev.occurred_at.timestamp()
        if published:
            points[f"{name} published"] = stored


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] * 1000 if s else float("nan")


def report(title: str, paths: Paths, order: list[str], emit: Callable[[str, str], None]) -> None:
    """p50 / p99 of each hop between consecutive points of ``order``, over the items that passed all."""
    full = [p for p in paths.values() if all(n in p for n in order)]
    emit(f"{title}: per hop ({len(full)}/{len(paths)} traced)", "p50 / p99 ms")
    if not full:
        return
    for a, b in itertools.pairwise(order):
        d = [p[b] - p[a] for p in full]
        emit(f"  ... {a} -> {b}", f"{pct(d, .5):7.1f} / {pct(d, .99):7.1f}")
    total = [p[order[-1]] - p[order[0]] for p in full]
    emit(f"  ... {order[0]} -> {order[-1]}", f"{pct(total, .5):7.1f} / {pct(total, .99):7.1f}")
