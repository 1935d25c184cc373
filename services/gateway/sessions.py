"""Dashboard sessions at the edge: the login (the password is verified here against the argon2id hash
accounts keeps, so it never travels on NATS), the HttpOnly session cookie, its CSRF token, and a cache
of live sessions that every replica empties by event when a session ends.

A session authenticates /v1 only together with its CSRF token (``X-CSRF-Token``): the token is an HMAC
of the session token, so it cannot be made without the cookie and a page of another origin cannot read
it; a cookie alone authenticates nothing but the dashboard's own HTML pages, which change nothing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.bus.rpc import RpcClient
from libs.cache import TtlCache, evict_on
from proto.base import CommandError, parse_time
from proto.commands import accounts as c
from proto.events import decode_event
from proto.events.accounts import SessionEnded
from proto.subjects import Subjects
from services.gateway.edge import RateLimiter

log = structlog.get_logger(__name__)

COOKIE = "am_session"
CSRF_HEADER = "X-CSRF-Token"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so a login costs the same whether or not the account exists."""
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """Session tokens are high-entropy (256 bits): one SHA-256 is enough, as for API keys."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The session's CSRF token: derived from the session token, so nothing more is stored."""
    return hmac.new(token.encode(), b"am-csrf-v1", hashlib.sha256).hexdigest()


def _epoch(rfc3339: str) -> float:
    return parse_time(rfc3339, "expires_at").timestamp()


class Sessions:
    def __init__(self, rpc: RpcClient, *, ttl_s: int, cache_ttl_s: float, secure_cookie: bool,
                 login_per_min: int):
        self.rpc = rpc
        self.ttl_s = ttl_s
        self.cache_ttl_s = cache_ttl_s
        self.secure_cookie = secure_cookie
        self._cache: TtlCache[str, c.SessionView] = TtlCache(cache_ttl_s, max_entries=100_000)
        # per email, beside the gateway's per-address limit on the route: a slow guess at one account
        # from many addresses is limited too
        self.per_email = RateLimiter(login_per_min / 60.0, login_per_min)

    # -- who is this ---------------------------------------------------------------------------------

    async def lookup(self, token: str | None) -> c.SessionView | None:
        """The live session of a cookie's token, or None (no cookie, ended, expired, malformed)."""
        if not token or len(token) > 200:
            return None
        h = token_hash(token)
        hit = self._cache.get(h)
        if hit is not None:
            return hit
        try:
            view: c.SessionView = await self.rpc.call(c.AuthenticateSession(token_hash=h))
        except CommandError as exc:
            if exc.status == 401:
                self._cache.evict(h)
                return None
            raise
        self._cache.put(h, view, ttl_s=_epoch(view.expires_at) - time.time())  # never past the session's end
        return view

    @staticmethod
    def same_origin(request: web.Request) -> None:
        """A browser's Origin, when sent, must be this origin (a page elsewhere cannot log you in or act
        with your session)."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise CommandError("CSRF_FAILED", "cross-origin request refused", 403)

    async def for_api(self, request: web.Request) -> c.SessionView:
        """A /v1 request authenticated by the session cookie: the CSRF header must match, and a browser's
        Origin, when sent, must be this origin."""
        token = request.cookies.get(COOKIE, "")
        self.same_origin(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, csrf_token(token)):
            raise CommandError("CSRF_FAILED", f"a request made with the session cookie must carry its "
                               f"{CSRF_HEADER} header (the csrf_token from POST /v1/sessions)", 403)
        view = await self.lookup(token)
        if view is None:
            raise CommandError("UNAUTHORIZED", "the session ended or expired; log in again", 401)
        return view

    def forget_all(self) -> None:
        """After a NATS reconnect: a session's end may have been missed meanwhile."""
        self._cache.clear()

    def evict(self, session_ids: set[str]) -> None:
        self._cache.evict_where(lambda view: view.id in session_ids)

    async def follow_endings(self, nc: Client, subjects: Subjects) -> None:
        """Core-NATS subscription to ended sessions: every replica forgets them within milliseconds."""

        def on_msg(msg: Msg) -> None:
            ev = decode_event(msg.data)
            if isinstance(ev, SessionEnded):
                self.evict({ev.session_id})

        await evict_on(nc, subjects.of(SessionEnded), on_msg)

    # -- log in and out ------------------------------------------------------------------------------

    async def login(self, email: str, password: str, user_agent: str) -> tuple[str, c.SessionView]:
        """Verify the password against the stored argon2id hash; start a session. Answers its token."""
        email = email.strip().lower()
        ok, headers = self.per_email.take(email)
        if not ok:
            raise CommandError("RATE_LIMITED", "too many log-in attempts for this account; wait and retry",
                               429, {"retry_after": int(headers["Retry-After"])})
        try:
            cred: c.LoginCredentials | None = await self.rpc.call(c.GetLoginCredentials(email=email))
        except CommandError as exc:
            if exc.status != 404:
                raise
            cred = None
        stored = cred.password_hash if cred is not None else _dummy_hash()
        verified = await asyncio.get_running_loop().run_in_executor(None, _verify, stored, password)
        if cred is None or not verified:
            log.info("login_refused", reason="unknown_email" if cred is None else "wrong_password")
            raise CommandError("INVALID_CREDENTIALS", "wrong email or password", 401)
        token = secrets.token_urlsafe(32)
        view: c.SessionView = await self.rpc.call(c.StartSession(
            org_id=cred.org_id, user_id=cred.user_id, token_hash=token_hash(token), ttl_s=self.ttl_s,
            user_agent=user_agent[:512]))
        log.info("session_started", org_id=view.org_id, session_id=view.id)
        return token, view

    def set_cookie(self, resp: web.StreamResponse, token: str) -> None:
        resp.set_cookie(COOKIE, token, max_age=self.ttl_s, path="/", httponly=True, samesite="Lax",
                        secure=self.secure_cookie)

    def clear_cookie(self, resp: web.StreamResponse) -> None:
        resp.del_cookie(COOKIE, path="/", httponly=True, samesite="Lax", secure=self.secure_cookie)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


SESSIONS_KEY: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
