"""Scopes and caps of API keys, enforced at the edge before any side effect.

Every authenticated route declares the one scope it needs (``ROUTE_SCOPES``; a route missing from it
is refused to a scoped key, and a test fails). A key without scopes keeps full access. Caps are
checked in this order, each before the request reaches a service:

- ``expires_at`` → 401 UNAUTHORIZED (the gateway's auth cache may still hold the key);
- ``allowed_recipients`` / ``allowed_from`` → 403 RECIPIENT_NOT_ALLOWED;
- ``sends_per_minute`` / ``sends_per_day`` / ``spend_per_day`` → 429 CAP_EXCEEDED naming the cap and
  when it resets (``Retry-After``).

The counters live in a NATS KV bucket shared by every gateway replica (compare-and-set increments,
keys expiring after two days). A send is counted before it is forwarded and uncounted when it is not
accepted, so a refused send costs nothing. Keys without caps are counted too (for ``usage``), but
through a per-replica tally flushed every second instead of on the request path.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from aiohttp import web
from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from libs.phone import normalize_e164
from libs.sms import count_segments
from proto.api import format_money, parse_money
from proto.base import CommandError
from proto.commands.accounts import KeyCaps, KeyUsage, Principal
from proto.http.accounts import CreateKeyBody
from proto.scopes import PRESETS, SCOPES
from proto.subjects import Subjects

log = structlog.get_logger(__name__)

ROUTE_SCOPES: dict[str, str] = {
    "POST /v1/api-keys": "keys:write",
    "GET /v1/api-keys": "keys:write",
    "DELETE /v1/api-keys/{id}": "keys:write",
    "GET /v1/balance": "billing:read",
    "GET /v1/sessions/current": "keys:write",
    "DELETE /v1/sessions/current": "keys:write",
    "GET /v1/sessions": "keys:write",
    "DELETE /v1/sessions/{id}": "keys:write",
    "DELETE /v1/sessions": "keys:write",
    "POST /v1/phone-numbers/search": "numbers:read",
    "POST /v1/phone-numbers/orders": "numbers:write",
    "GET /v1/phone-numbers": "numbers:read",
    "GET /v1/phone-numbers/{id}": "numbers:read",
    "PATCH /v1/phone-numbers/{id}": "numbers:write",
    "POST /v1/phone-numbers/{id}/webhook-secret/rotate": "numbers:write",
    "DELETE /v1/phone-numbers/{id}": "numbers:write",
    "GET /v1/inbound-messages": "messages:read",
    "GET /v1/inbound-messages/{id}": "messages:read",
    "GET /v1/inbound-messages/{id}/deliveries": "messages:read",
    "POST /v1/inbound-messages/{id}/redeliver": "numbers:write",
    "POST /v1/brands": "compliance:write",
    "GET /v1/brands": "compliance:read",
    "GET /v1/brands/{id}": "compliance:read",
    "POST /v1/campaigns": "compliance:write",
    "GET /v1/campaigns": "compliance:read",
    "GET /v1/campaigns/{id}": "compliance:read",
    "POST /v1/campaigns/{id}/resubmit": "compliance:write",
    "POST /v1/campaigns/{id}/phone-numbers": "numbers:write",
    "DELETE /v1/campaigns/{id}/phone-numbers/{phone_number_id}": "numbers:write",
    "POST /v1/consent/double-opt-in": "compliance:write",
    "POST /v1/consent": "compliance:write",
    "GET /v1/consent": "compliance:read",
    "GET /v1/consent/export": "compliance:read",
    "GET /v1/consent/{contact_number}": "compliance:read",
    "DELETE /v1/consent/{contact_number}": "compliance:write",
    "POST /v1/compliance/check": "compliance:read",
    "GET /v1/compliance/settings": "compliance:read",
    "PATCH /v1/compliance/settings": "compliance:write",
    "GET /v1/compliance/decisions": "compliance:read",
    "GET /v1/compliance/decisions/export": "compliance:read",
    "POST /v1/messages": "messages:send",
    "POST /v1/messages/{id}/cancel": "messages:send",
    "GET /v1/messages": "messages:read",
    "GET /v1/messages/callback-secret": "messages:read",
    "GET /v1/messages/{id}": "messages:read",
    "GET /v1/messages/{id}/status-callbacks": "messages:read",
    "GET /v1/conversations": "messages:read",
    "GET /v1/conversations/{id}": "messages:read",
    "GET /v1/conversations/{id}/messages": "messages:read",
}
"""The scope each authenticated route needs ("METHOD path" as in the route table)."""

SEND_ROUTE = "POST /v1/messages"
"""The route counted against the send caps."""

RECIPIENT_FIELDS: dict[str, tuple[str, str | None]] = {
    "POST /v1/messages": ("to", "from"),
    "POST /v1/consent/double-opt-in": ("contact_number", None),
}
"""Routes that text someone: (the recipient's body field, the sender's body field)."""


KEYS_ROUTE = "POST /v1/api-keys"
"""Creating a key: a limited key may not mint a less limited one."""


def _check_delegation(caller: Principal, raw: bytes) -> None:
    """A key with scopes grants only scopes it has; a key with caps creates no keys (their caps, counted
    per key, would not bind it)."""
    if caller.caps is not None:
        raise CommandError("KEY_CAPPED", "a key with caps cannot create keys; use a key without caps", 403)
    try:
        body = msgspec.json.decode(raw or b"{}", type=CreateKeyBody)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return  # the route's own validation answers 400
    scopes, _ = key_grants(body)
    assert caller.scopes is not None
    wanted = SCOPES if scopes is None else scopes
    missing = [sc for sc in wanted if sc not in caller.scopes]
    if missing:
        raise CommandError("SCOPE_REQUIRED", f"this API key cannot grant the scope {missing[0]}, which it lacks",
                           403, {"scope": missing[0], "key_scopes": caller.scopes})


def route_scope(method: str, path: str) -> str | None:
    return ROUTE_SCOPES.get(f"{method} {path}")


# -- creating a key ---------------------------------------------------------------------------------

def key_grants(body: CreateKeyBody) -> tuple[list[str] | None, KeyCaps | None]:
    """A create-key body → (scopes, caps) for accounts: presets expanded, caps validated. None scopes:
    every scope (neither scopes nor a preset given)."""
    scopes: list[str] | None = None
    if body.scopes is not None or body.preset is not None:
        wanted = set(body.scopes or ()) | set(PRESETS[body.preset] if body.preset else ())
        if not wanted:
            raise CommandError("VALIDATION_ERROR", "scopes: give at least one scope (or leave it out for all)", 400,
                               {"field": "scopes"})
        scopes = [s for s in SCOPES if s in wanted]
    caps: KeyCaps | None = None
    if body.caps is not None:
        b = body.caps
        expires: str | None = None
        if b.expires_at is not None:
            try:
                ts = datetime.fromisoformat(b.expires_at.replace("Z", "+00:00"))
            except ValueError as exc:
                raise CommandError("VALIDATION_ERROR", "caps.expires_at: must be an RFC 3339 time", 400,
                                   {"field": "caps.expires_at"}) from exc
            if ts.tzinfo is None:
                raise CommandError("VALIDATION_ERROR", "caps.expires_at: must carry a time zone (Z)", 400,
                                   {"field": "caps.expires_at"})
            expires = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        caps = KeyCaps(
            spend_per_day=format_money(parse_money(b.spend_per_day)) if b.spend_per_day is not None else None,
            sends_per_minute=b.sends_per_minute, sends_per_day=b.sends_per_day,
            allowed_recipients=_prefixes(b.allowed_recipients, "caps.allowed_recipients"),
            allowed_from=_prefixes(b.allowed_from, "caps.allowed_from"),
            expires_at=expires)
    return scopes, caps


def _prefixes(values: list[str] | None, field_name: str) -> list[str] | None:
    if values is None:
        return None
    if not values:
        raise CommandError("VALIDATION_ERROR", f"{field_name}: give at least one number or prefix", 400,
                           {"field": field_name})
    return sorted(set(values))


# -- checking a request -----------------------------------------------------------------------------

@dataclass
class Admission:
    """What the guard decided for one request: whether it is a counted send and what it costs."""

    key_id: str
    caps: KeyCaps | None
    send: bool = False
    cost_micros: int = 0
    counted: list[tuple[str, int]] = field(default_factory=list)
    """Counters incremented for this request (undone when it is not accepted)."""


def _matches(number: str, allowed: list[str]) -> bool:
    return any(number.startswith(p) for p in allowed)


def _field(doc: Any, name: str | None) -> str | None:
    if name is None or not isinstance(doc, dict):
        return None
    value = doc.get(name)
    if not isinstance(value, str):
        return None
    try:
        return normalize_e164(value)
    except ValueError:
        return None  # the route's own validation answers 400


class KeyGuard:
    def __init__(self, usage: UsageCounters | None, price_per_segment_micros: int):
        self.usage = usage
        self.price_per_segment_micros = price_per_segment_micros

    def admit(self, method: str, path: str, principal: Principal, raw: bytes) -> Admission:
        """Scope, expiry and allow-lists: pure, no I/O. Raises the error to answer."""
        name = f"{method} {path}"
        caps = principal.caps
        if caps is not None and caps.expires_at is not None and caps.expires_at <= _now_rfc3339():
            raise CommandError("UNAUTHORIZED", "this API key has expired", 401, {"reason": "expired"})
        if principal.scopes is not None:
            needed = ROUTE_SCOPES.get(name)
            if needed is None or needed not in principal.scopes:
                scope = needed or "full access"
                raise CommandError("SCOPE_REQUIRED", f"this API key lacks the scope {scope}", 403,
                                   {"scope": scope, "key_scopes": principal.scopes})
        if name == KEYS_ROUTE and (principal.scopes is not None or caps is not None):
            _check_delegation(principal, raw)
        adm = Admission(key_id=principal.key_id, caps=caps, send=name == SEND_ROUTE)
        fields = RECIPIENT_FIELDS.get(name)
        doc: Any = None
        if fields is not None and (adm.send or (caps and (caps.allowed_recipients or caps.allowed_from))):
            try:
                doc = msgspec.json.decode(raw or b"{}")
            except (msgspec.DecodeError, ValueError):  # not JSON, not UTF-8: the route's validation answers 400
                doc = None
        if fields is not None and caps is not None:
            to, frm = _field(doc, fields[0]), _field(doc, fields[1])
            if caps.allowed_recipients is not None and to is not None and not _matches(to, caps.allowed_recipients):
                raise CommandError("RECIPIENT_NOT_ALLOWED", f"this API key may not text {to}", 403,
                                   {"field": fields[0], "to": to, "allowed_recipients": caps.allowed_recipients})
            if caps.allowed_from is not None and frm is not None and not _matches(frm, caps.allowed_from):
                raise CommandError("RECIPIENT_NOT_ALLOWED", f"this API key may not send from {frm}", 403,
                                   {"field": fields[1], "from": frm, "allowed_from": caps.allowed_from})
        if adm.send and isinstance(doc, dict) and isinstance(doc.get("text"), str):
            adm.cost_micros = count_segments(doc["text"])[0] * self.price_per_segment_micros
        return adm

    async def reserve(self, adm: Admission) -> None:
        """Count a send against its key's caps (CAS on shared counters); 429 CAP_EXCEEDED if one is full."""
        if not adm.send or self.usage is None:
            return
        caps = adm.caps
        if caps is None or (caps.sends_per_minute is None and caps.sends_per_day is None
                            and caps.spend_per_day is None):
            self.usage.tally(adm.key_id, adm.cost_micros)
            return
        now = datetime.now(UTC)
        minute, day = _minute(now), _day(now)
        plan = [
            ("sends_per_minute", self.usage.name(adm.key_id, "m", minute), 1, caps.sends_per_minute,
             _next_minute(now)),
            ("sends_per_day", self.usage.name(adm.key_id, "d", day), 1, caps.sends_per_day, _next_day(now)),
            ("spend_per_day", self.usage.name(adm.key_id, "s", day), adm.cost_micros,
             parse_money(caps.spend_per_day) if caps.spend_per_day is not None else None, _next_day(now)),
        ]
        try:
            for cap, key, delta, limit, resets in plan:
                ok, current = await self.usage.add(key, delta, limit)
                if not ok:
                    assert limit is not None
                    retry = max(1, int((resets - now).total_seconds() + 0.999))
                    shown = format_money(limit) if cap == "spend_per_day" else limit
                    used = format_money(current) if cap == "spend_per_day" else current
                    raise CommandError(
                        "CAP_EXCEEDED", f"this API key reached its {cap} cap ({shown}); it resets at "
                        f"{_rfc3339(resets)}", 429,
                        {"cap": cap, "limit": shown, "used": used, "resets_at": _rfc3339(resets),
                         "retry_after": retry})
                adm.counted.append((key, delta))
        except BaseException:
            await self.release(adm)
            raise

    async def release(self, adm: Admission) -> None:
        """The request was not accepted: take back what it counted."""
        if self.usage is None:
            return
        counted, adm.counted = adm.counted, []
        for key, delta in counted:
            try:
                await self.usage.add(key, -delta, None)
            except Exception as exc:  # a lost decrement over-counts (fails safe): log, never 5xx a reply
                log.warning("key_usage_release_failed", key=key, error=repr(exc))


def retry_after(exc: CommandError) -> dict[str, str]:
    if exc.code == "CAP_EXCEEDED":
        return {"Retry-After": str(exc.details.get("retry_after", 1))}
    return {}


# -- shared counters ---------------------------------------------------------------------------------

def _now_rfc3339() -> str:
    return _rfc3339(datetime.now(UTC))


def _rfc3339(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


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
        self._pending: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self._flusher: asyncio.Task[None] | None = None
        self._read: dict[str, tuple[KeyUsage, float]] = {}

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

    def tally(self, key_id: str, cost_micros: int) -> None:
        """An uncapped key's send: counted in the background (usage only)."""
        p = self._pending[key_id]
        p[0] += 1
        p[1] += cost_micros

    async def flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(lambda: [0, 0])
        now = datetime.now(UTC)
        for key_id, (sends, cost) in pending.items():
            try:
                await self.add(self.name(key_id, "m", _minute(now)), sends, None)
                await self.add(self.name(key_id, "d", _day(now)), sends, None)
                if cost:
                    await self.add(self.name(key_id, "s", _day(now)), cost, None)
            except Exception as exc:
                log.warning("key_usage_flush_failed", key_id=key_id, error=repr(exc))

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
        m, d, s = await asyncio.gather(self._get(self.name(key_id, "m", _minute(now))),
                                       self._get(self.name(key_id, "d", _day(now))),
                                       self._get(self.name(key_id, "s", _day(now))))
        local = self._pending.get(key_id)
        if local is not None:  # this replica's tally not flushed yet
            m, d, s = m + local[0], d + local[0], s + local[1]
        return KeyUsage(sends_this_minute=m, sends_today=d, spend_today=format_money(s))


GUARD_KEY: web.AppKey[KeyGuard] = web.AppKey("key_guard")
"""The gateway's key guard, for routes that show usage."""
