"""Send caps of API keys, counted on counters every gateway replica shares.

``sends_per_minute`` / ``sends_per_day`` / ``spend_per_day`` → 429 CAP_EXCEEDED naming the cap and
when it resets (``Retry-After``), before the send reaches a service.

The counters live in a NATS KV bucket shared by every gateway replica (compare-and-set increments,
keys expiring after two days). A send is counted before it is forwarded and uncounted when it is not
accepted, so a refused send costs nothing. Keys without caps are counted too (for ``usage``), but
through a per-replica tally flushed every second instead of on the request path.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from proto.api import format_money, parse_money
from proto.base import CommandError, rfc3339
from proto.commands.accounts import KeyUsage, Principal
from proto.subjects import Subjects
from services.gateway import scopes
from services.gateway.scopes import Admission

log = structlog.get_logger(__name__)


class KeyGuard:
    """A key's scopes and allow-lists (``scopes.admit``), then its send caps on the shared counters."""

    def __init__(self, usage: UsageCounters | None, price_per_segment_micros: int):
        self.usage = usage
        self.price_per_segment_micros = price_per_segment_micros

    def admit(self, method: str, path: str, principal: Principal, raw: bytes, body: Any = None) -> Admission:
        """Scope, expiry and allow-lists: pure, no I/O. Raises the error to answer (``scopes.admit``)."""
        return scopes.admit(method, path, principal, raw, self.price_per_segment_micros, body)

    async def reserve(self, adm: Admission) -> None:
        """Count a send against its key's caps (CAS on shared counters); 429 CAP_EXCEEDED if one is full.
        Only a counter with a limit is compared and set on the request path; the others are tallied (in
        the background, like an uncapped key's) and untallied if the send is not accepted."""
        if not adm.send or self.usage is None:
            return
        caps = adm.caps
        if caps is None or (caps.sends_per_minute is None and caps.sends_per_day is None
                            and caps.spend_per_day is None):
            adm.tallied = (1, 1, adm.cost_micros)  # (so that ``release`` takes it back)
            self.usage.tally(adm.key_id, *adm.tallied)
            return
        now = datetime.now(UTC)
        plan = [
            ("sends_per_minute", "m", _minute(now), 1, caps.sends_per_minute, _next_minute(now)),
            ("sends_per_day", "d", _day(now), 1, caps.sends_per_day, _next_day(now)),
            ("spend_per_day", "s", _day(now), adm.cost_micros,
             parse_money(caps.spend_per_day) if caps.spend_per_day is not None else None, _next_day(now)),
        ]
        tally = {kind: delta for _, kind, _, delta, limit, _ in plan if limit is None}
        try:
            for cap, kind, period, delta, limit, resets in plan:
                if limit is None:
                    continue
                key = self.usage.name(adm.key_id, kind, period)
                ok, current = await self.usage.add(key, delta, limit)
                if not ok:
                    raise _cap_exceeded(cap, limit, current, now, resets)
                adm.counted.append((key, delta))
        except BaseException:
            await self.release(adm)
            raise
        adm.tallied = (tally.get("m", 0), tally.get("d", 0), tally.get("s", 0))
        self.usage.tally(adm.key_id, *adm.tallied)

    async def release(self, adm: Admission) -> None:
        """The request was not accepted: take back what it counted."""
        if self.usage is None:
            return
        counted, adm.counted = adm.counted, []
        tallied, adm.tallied = adm.tallied, None
        if tallied is not None:
            self.usage.tally(adm.key_id, *(-n for n in tallied))
        for key, delta in counted:
            try:
                await self.usage.add(key, -delta, None)
            except Exception as exc:  # a lost decrement over-counts (fails safe): log, never 5xx a reply
                log.warning("key_usage_release_failed", key=key, error=repr(exc))


def _cap_exceeded(cap: str, limit: int, current: int, now: datetime, resets: datetime) -> CommandError:
    retry = max(1, int((resets - now).total_seconds() + 0.999))
    shown = format_money(limit) if cap == "spend_per_day" else limit
    used = format_money(current) if cap == "spend_per_day" else current
    return CommandError(
        "CAP_EXCEEDED", f"this API key reached its {cap} cap ({shown}); it resets at {rfc3339(resets)}", 429,
        {"cap": cap, "limit": shown, "used": used, "resets_at": rfc3339(resets), "retry_after": retry})


def retry_after(exc: CommandError) -> dict[str, str]:
    if exc.code == "CAP_EXCEEDED":
        return {"Retry-After": str(exc.details.get("retry_after", 1))}
    return {}


# -- shared counters ---------------------------------------------------------------------------------

def _minute(now: datetime) -> str:
    return now.strftime("%Y%m%d%H%M")


def _day(now: datetime) -> str:
    return now.strftime("%Y%m%d")


def _next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _next_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def _unavailable(exc: Exception) -> CommandError:
    log.warning("key_usage_unavailable", error=repr(exc))
    return CommandError("SERVICE_UNAVAILABLE", "API key usage counters are not reachable; retry", 503,
                        {"service": "nats"})


class UsageCounters:
    """Per-key counters in a NATS KV bucket, shared by every gateway replica."""

    def __init__(self, kv: KeyValue):
        self.kv = kv
        self._pending: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        """key id → sends this minute, sends today, spend today: counted here, not yet in the bucket."""
        self._flushing: dict[str, list[int]] = {}
        """What a flush under way has not written yet (still counted in ``usage``)."""
        self._flusher: asyncio.Task[None] | None = None
        self._read: dict[str, tuple[KeyUsage, float]] = {}
        self._moved = 0
        """Bumped whenever a flush moves a count from here into the bucket: a read of the bucket that saw it
        move under it would count that send twice or not at all, so it reads again."""

    @classmethod
    async def open(cls, nc: Client, subjects: Subjects, *, replicas: int = 1) -> UsageCounters:
        js = nc.jetstream()
        name = f"{subjects.root.upper()}_KEY_USAGE"
        try:
            kv = await js.key_value(name)
        except (BucketNotFoundError, NotFoundError):
            from nats.js.api import KeyValueConfig

            kv = await js.create_key_value(KeyValueConfig(bucket=name, ttl=2 * 86400.0, history=1,
                                                           replicas=replicas))
        self = cls(kv)
        self._flusher = asyncio.create_task(self._flush_loop())
        return self

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.wait({self._flusher}, timeout=2)
        flushing = asyncio.create_task(self.flush())
        await asyncio.wait({flushing}, timeout=2)  # bounded: a stop must not wait on NATS
        if not flushing.done():
            flushing.cancel()

    @staticmethod
    def name(key_id: str, kind: str, period: str) -> str:
        return f"{key_id}.{kind}.{period}"

    async def add(self, key: str, delta: int, limit: int | None) -> tuple[bool, int]:
        """Add ``delta`` unless that takes the counter over ``limit``: (added, value now)."""
        for _ in range(100):
            try:
                entry = await self.kv.get(key)
                current, revision = int(entry.value or b"0"), entry.revision
            except KeyNotFoundError:
                current, revision = 0, None
            except Exception as exc:
                raise _unavailable(exc) from exc
            new = current + delta
            if limit is not None and delta > 0 and new > limit:
                return False, current
            try:
                if revision is None:
                    await self.kv.create(key, str(new).encode())
                else:
                    await self.kv.update(key, str(new).encode(), last=revision)
                return True, new
            except KeyWrongLastSequenceError:
                continue
            except Exception as exc:
                if "wrong last sequence" not in str(exc).lower() and "key exists" not in str(exc).lower():
                    raise _unavailable(exc) from exc
        raise CommandError("SERVICE_UNAVAILABLE", "key usage counters are contended; retry", 503)

    def tally(self, key_id: str, minute: int, day: int, spend: int) -> None:
        """Counters without a limit (all of an uncapped key's): counted in the background (usage only);
        negative to take back a send that was not accepted."""
        p = self._pending[key_id]
        p[0] += minute
        p[1] += day
        p[2] += spend

    async def flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(lambda: [0, 0, 0])
        self._flushing = pending
        now = datetime.now(UTC)
        try:
            for key_id, counts in pending.items():
                for i, (kind, period) in enumerate((("m", _minute(now)), ("d", _day(now)), ("s", _day(now)))):
                    if not counts[i]:
                        continue
                    try:
                        await self.add(self.name(key_id, kind, period), counts[i], None)
                    except Exception as exc:
                        log.warning("key_usage_flush_failed", key_id=key_id, error=repr(exc))
                    counts[i] = 0
                    self._moved += 1
        finally:
            self._flushing = {}

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._pending:
                await self.flush()

    async def _get(self, key: str) -> int:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return 0
        except Exception as exc:
            raise _unavailable(exc) from exc
        return int(entry.value or b"0")

    async def usage(self, key_id: str) -> KeyUsage:
        """A key's usage now, read at most once a second per key (listing keys is a hot read)."""
        hit = self._read.get(key_id)
        mono = time.monotonic()
        if hit is not None and hit[1] > mono:
            return hit[0]
        found = await self._usage(key_id)
        if len(self._read) > 10_000:
            self._read.clear()
        self._read[key_id] = (found, mono + 1.0)
        return found

    async def _usage(self, key_id: str) -> KeyUsage:
        now = datetime.now(UTC)
        for _ in range(10):  # the bucket read again while a flush moved counts into it meanwhile
            moved = self._moved
            m, d, s = await asyncio.gather(self._get(self.name(key_id, "m", _minute(now))),
                                           self._get(self.name(key_id, "d", _day(now))),
                                           self._get(self.name(key_id, "s", _day(now))))
            if moved == self._moved:
                break
        for local in (self._pending.get(key_id), self._flushing.get(key_id)):
            if local is not None:  # this replica's tally not written yet
                m, d, s = m + local[0], d + local[1], s + local[2]
        # a send taken back after its tally was flushed into the next minute's counter: never below zero
        return KeyUsage(sends_this_minute=max(0, m), sends_today=max(0, d), spend_today=format_money(max(0, s)))


GUARD_KEY: web.AppKey[KeyGuard] = web.AppKey("key_guard")
"""The gateway's key guard, for routes that show usage."""
