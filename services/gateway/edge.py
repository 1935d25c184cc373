"""Edge concerns: API-key auth with an event-invalidated cache, token-bucket rate limits, and
Idempotency-Key replay kept in a NATS KV bucket (shared by every replica, expiring after 24 h), with
short leases for requests in flight and resource ids derived from the key."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from libs.bus.rpc import RpcClient
from libs.cache import TtlCache, evict_on
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
        self._by_hash: TtlCache[str, Principal] = TtlCache(ttl_s)

    async def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.isascii() or not authorization.startswith("Bearer "):
            raise CommandError("UNAUTHORIZED", "send your API key as 'Authorization: Bearer am_live_...'", 401)
        secret = authorization[7:].strip()
        if not secret.isascii() or not secret.startswith("am_live_") or len(secret) < 40 or len(secret) > 200:
            raise CommandError("UNAUTHORIZED", "missing, malformed, unknown or revoked API key", 401)
        key_hash = credentials.hash_key(secret)  # only the hash goes to accounts
        return await self._by_hash.load(key_hash, lambda: self.rpc.call(Authenticate(key_hash=key_hash)))

    def forget_all(self) -> None:
        """After a NATS reconnect: a revocation may have been missed meanwhile."""
        self._by_hash.clear()

    def evict_key(self, key_id: str) -> None:
        self._by_hash.evict_where(lambda p: p.key_id == key_id)

    async def follow_revocations(self, nc: Client, subjects: Subjects) -> None:
        """Core-NATS subscription to key revocations: every replica evicts within milliseconds."""

        def on_msg(msg: Msg) -> None:
            ev = decode_event(msg.data)
            if isinstance(ev, ApiKeyRevoked):
                self.evict_key(ev.key_id)

        await evict_on(nc, subjects.of(ApiKeyRevoked), on_msg)


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
    """in_flight (a request holds the slot until lease_until) or done (its response, replayed)."""
    body_hash: str
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"
    lease_until: float = 0.0
    """Wall-clock time (epoch seconds) until which an in-flight request holds the slot; past it, a retry
    takes the slot over (the holder crashed or lost its answer). 0: an entry of an older gateway."""


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(Stored)
_ID_NAMESPACE = uuid.UUID("5b0b7f8e-7a62-4c84-9d7e-6f1c1d2a9e31")
_SECRET_FIELDS = frozenset({"secret"})


def redact_secrets(body: bytes) -> bytes:
    """A stored response as it is replayed: every one-time ``secret`` (a new API key's) set to null. A
    replay is what anyone holding the Idempotency-Key and the key (or, for signup, the same client
    address) can fetch for a day; a secret is shown once, to the request that created it."""
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return body

    def scrub(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: (None if k in _SECRET_FIELDS and isinstance(x, str) else scrub(x)) for k, x in v.items()}
        if isinstance(v, list):
            return [scrub(x) for x in v]
        return v

    return _enc.encode(scrub(doc))


class Idempotency:
    """First successful response per (org, method, path, key) kept ``ttl_s`` (24 h) and replayed; the same key
    with another body → 422. A request in flight holds the slot for a short lease: a duplicate meanwhile →
    409 with Retry-After; past the lease (the holder crashed, or its answer was lost) a retry takes the slot
    over. Whatever happened before, a retry creates nothing new: ``resource_id`` derives the id of what the
    request creates from the slot, so every attempt names the same resource and the service that owns it
    answers with the one it already has."""

    def __init__(self, kv: KeyValue, lease_s: float):
        self.kv = kv
        self.lease_s = lease_s

    @classmethod
    async def open(cls, nc: Client, subjects: Subjects, ttl_s: int, lease_s: float, *,
                   replicas: int = 1) -> Idempotency:
        js = nc.jetstream()
        name = f"{subjects.root.upper()}_IDEMPOTENCY"
        try:
            kv = await js.key_value(name)
        except (BucketNotFoundError, NotFoundError):
            from nats.js.api import KeyValueConfig

            kv = await js.create_key_value(KeyValueConfig(bucket=name, ttl=float(ttl_s), history=1, replicas=replicas))
        return cls(kv, lease_s)

    @staticmethod
    def slot(scope: str, method: str, path: str, key: str) -> str:
        return hashlib.sha256(f"{scope}\n{method}\n{path}\n{key}".encode()).hexdigest()

    @staticmethod
    def fingerprint(raw: bytes, slot: str, *, anonymous: bool) -> str:
        """What tells a retried request from another one under the same key, kept in the bucket. An
        anonymous POST (signup) carries a password: its fingerprint is a salted, memory-hard scrypt so
        that reading the bucket gives no cheap way to test guesses; a keyed request's body holds no
        secret and a plain SHA-256 keeps sends cheap. The body counts as JSON, not as bytes: the same object
        with its keys in another order or other white space is the same request (a client's retry may
        serialise it anew)."""
        raw = canonical_json(raw)
        if anonymous:
            return hashlib.scrypt(raw, salt=slot.encode(), n=2**14, r=8, p=1, maxmem=64 * 1024 * 1024).hex()
        return hashlib.sha256(raw).hexdigest()

    @staticmethod
    def resource_id(slot: str) -> str:
        """The id of the resource the request creates (message, order, key, brand...): one per slot."""
        return str(uuid.uuid5(_ID_NAMESPACE, slot))

    def _in_flight(self, body_hash: str) -> bytes:
        return _enc.encode(Stored("in_flight", body_hash, lease_until=time.time() + self.lease_s))

    async def begin(self, slot: str, body_hash: str) -> Stored | None:
        """None: we own the slot, go ahead. A Stored: replay it. Raises for conflicts."""
        for _ in range(3):
            try:
                await self.kv.create(slot, self._in_flight(body_hash))
                return None
            except KeyWrongLastSequenceError:
                pass
            try:
                entry = await self.kv.get(slot)
            except (KeyNotFoundError, KeyDeletedError):
                continue  # finished with an error (slot freed) in between: try to take it again
            stored = _dec.decode(entry.value or b"")
            if stored.body_hash != body_hash:
                raise CommandError("IDEMPOTENCY_KEY_REUSED",
                                   "this Idempotency-Key was used with a different request body", 422)
            if stored.state != "in_flight":
                return stored
            left = stored.lease_until - time.time()
            if stored.lease_until and left > 0:
                raise in_flight(left)
            try:  # the lease ran out: take the slot over, unless another retry just did
                await self.kv.update(slot, self._in_flight(body_hash), last=entry.revision)
                return None
            except KeyWrongLastSequenceError:
                raise in_flight(self.lease_s) from None
        raise in_flight(1.0)

    async def release(self, slot: str) -> None:
        """Free a slot whose request ended without an answer to keep; if even that fails, its lease does."""
        try:
            await self.kv.delete(slot)
        except Exception as exc:
            log.warning("idempotency_not_released", error=repr(exc))

    async def finish(self, slot: str, body_hash: str, status: int, body: bytes, content_type: str) -> None:
        """Keep a success for replay (secrets redacted); free the slot after anything else. An error
        answer, a fault (503) included, is not kept: the retry runs again and converges on the resource
        the first attempt may have created, by its derived id."""
        if 200 <= status < 300:
            await self.kv.put(slot, _enc.encode(Stored("done", body_hash, status, redact_secrets(body),
                                                       content_type)))
        else:
            await self.kv.delete(slot)


def in_flight(left_s: float) -> CommandError:
    retry = max(1, math.ceil(left_s))
    return CommandError("IDEMPOTENCY_IN_FLIGHT",
                        "a request with this Idempotency-Key is still in progress; retry after "
                        f"{retry} s (a request holds its key at most {retry} s more)", 409,
                        {"retry_after_s": retry})


def canonical_json(raw: bytes) -> bytes:
    """``raw`` as JSON with object keys sorted and no white space; bytes that are not JSON as they are."""
    try:
        return msgspec.json.encode(msgspec.json.decode(raw), order="sorted")
    except (msgspec.DecodeError, msgspec.EncodeError):
        return raw
