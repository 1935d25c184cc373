"""Edge concerns: API-key auth with an event-invalidated cache, token-bucket rate limits, and
Idempotency-Key replay kept in a NATS KV bucket (shared by every replica, expiring after 24 h)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from libs.bus.rpc import RpcClient
from proto.base import CommandError
from proto.commands.accounts import Authenticate, Principal
from proto.events import decode_event
from proto.events.accounts import ApiKeyRevoked
from proto.subjects import Subjects
from services.gateway import credentials

log = structlog.get_logger(__name__)


class AuthCache:
    def __init__(self, rpc: RpcClient, ttl_s: float):
        self.rpc = rpc
        self.ttl_s = ttl_s
        self._by_hash: dict[str, tuple[Principal, float]] = {}

    async def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise CommandError("UNAUTHORIZED", "send your API key as 'Authorization: Bearer am_live_...'", 401)
        secret = authorization[7:].strip()
        if not secret.startswith("am_live_") or len(secret) < 40 or len(secret) > 200:
            raise CommandError("UNAUTHORIZED", "missing, malformed, unknown or revoked API key", 401)
        key_hash = credentials.hash_key(secret)  # only the hash goes to accounts
        hit = self._by_hash.get(key_hash)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        principal: Principal = await self.rpc.call("accounts", "authenticate", Authenticate(key_hash=key_hash),
                                                   Principal)
        self._by_hash[key_hash] = (principal, now + self.ttl_s)
        return principal

    def evict_key(self, key_id: str) -> None:
        for h, (p, _) in list(self._by_hash.items()):
            if p.key_id == key_id:
                del self._by_hash[h]

    async def follow_revocations(self, nc: Client, subjects: Subjects) -> None:
        """Core-NATS subscription to key revocations: every replica evicts within milliseconds."""

        async def on_msg(msg: Any) -> None:
            try:
                ev = decode_event(msg.data)
            except Exception:
                return
            if isinstance(ev, ApiKeyRevoked):
                self.evict_key(ev.key_id)

        await nc.subscribe(subjects.event("accounts", "api_key", "api_key_revoked", "*"), cb=on_msg)


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = Bucket(float(self.burst), now)
        b.tokens = min(float(self.burst), b.tokens + (now - b.updated) * self.rate)
        b.updated = now
        ok = b.tokens >= 1.0
        if ok:
            b.tokens -= 1.0
        reset = int((self.burst - b.tokens) / self.rate + 0.999) if self.rate > 0 else 0
        headers = {
            "X-RateLimit-Limit": str(self.burst),
            "X-RateLimit-Remaining": str(int(b.tokens)),
            "X-RateLimit-Reset": str(reset),
        }
        if not ok:
            headers["Retry-After"] = str(max(1, int((1.0 - b.tokens) / self.rate + 0.999)))
        if len(self._buckets) > 100_000:
            self._buckets.clear()
        return ok, headers


class Stored(msgspec.Struct):
    state: str
    body_hash: str
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(Stored)


class Idempotency:
    """First response per (org, method, path, key) kept 24 h; another body → 422; in flight → 409."""

    def __init__(self, kv: KeyValue):
        self.kv = kv

    @classmethod
    async def open(cls, nc: Client, subjects: Subjects, ttl_s: int) -> Idempotency:
        js = nc.jetstream()
        name = f"{subjects.root.upper()}_IDEMPOTENCY"
        try:
            kv = await js.key_value(name)
        except (BucketNotFoundError, NotFoundError):
            from nats.js.api import KeyValueConfig

            kv = await js.create_key_value(KeyValueConfig(bucket=name, ttl=float(ttl_s), history=1))
        return cls(kv)

    @staticmethod
    def slot(scope: str, method: str, path: str, key: str) -> str:
        return hashlib.sha256(f"{scope}\n{method}\n{path}\n{key}".encode()).hexdigest()

    async def begin(self, slot: str, body_hash: str) -> Stored | None:
        """None: we own the slot, go ahead. A Stored: replay it. Raises for conflicts."""
        try:
            await self.kv.create(slot, _enc.encode(Stored("in_flight", body_hash)))
            return None
        except KeyWrongLastSequenceError:
            pass
        except Exception as exc:
            if "wrong last sequence" not in str(exc).lower() and "key exists" not in str(exc).lower():
                raise
        entry = await self.kv.get(slot)
        stored = _dec.decode(entry.value or b"")
        if stored.body_hash != body_hash:
            raise CommandError("IDEMPOTENCY_KEY_REUSED",
                               "this Idempotency-Key was used with a different request body", 422)
        if stored.state == "in_flight":
            raise CommandError("IDEMPOTENCY_IN_FLIGHT",
                               "a request with this Idempotency-Key is still in progress; retry shortly", 409)
        return stored

    async def finish(self, slot: str, body_hash: str, status: int, body: bytes, content_type: str) -> None:
        if 200 <= status < 300:
            await self.kv.put(slot, _enc.encode(Stored("done", body_hash, status, body, content_type)))
        else:
            await self.kv.delete(slot)
