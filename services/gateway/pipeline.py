"""The gateway's request pipeline: one aiohttp middleware per concern, outermost first.

==================  ==========================================================================
``routing``         no route → 404, a method the path's template lacks → 405, in the envelope
``traced``          span, X-Request-ID (its trace id), ``http_request`` log line, ``am_http_seconds``
``enveloped``       a raised error → the error envelope (a fault 503 with Retry-After, never 500)
``authenticated``   API key or dashboard session → the ``Caller``
``rate_limited``    the key's token bucket (an anonymous POST's: the address's); X-RateLimit-*
``read_body``       the body: bounded, uncompressed, JSON
``admitted``        the key's scopes, expiry and allow-lists, before any side effect (pure)
``idempotent``      Idempotency-Key: replay, conflict, in flight; a success kept for replay
``capped``          a send counted against the key's caps, uncounted when not accepted
``endpoint``        the route: path, body and query decoded → ``Ctx`` → handler → success envelope
==================  ==========================================================================

A step hands what it learnt to the next ones on the request's ``Exchange`` (the route, the caller, the
rate-limit headers, the body, the admission, the resource id). Only the routes of the table have one
(``routing`` sets it; None for the rest): /mcp, the docs, the dashboard and the probes pass through the
steps untouched.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from libs.obs.metrics import HTTP_LATENCY
from libs.obs.tracing import server_span
from libs.runtime.service import Service
from proto.base import CommandError
from proto.commands.accounts import Principal
from services.gateway import sessions
from services.gateway.api import (
    CLOSE,
    FAULTS,
    Ctx,
    Reply,
    Route,
    check_text,
    decode_body,
    decode_query,
    envelope,
    error_response,
    read_body,
)
from services.gateway.config import GatewaySettings
from services.gateway.edge import AuthCache, Idempotency, RateLimiter
from services.gateway.scopes import Admission
from services.gateway.sessions import Sessions
from services.gateway.usage import KeyGuard, retry_after

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request: an API key (``principal``) or a dashboard session (``user_id``)."""

    org_id: str = ""
    key_id: str = ""
    user_id: str = ""
    session_id: str = ""
    principal: Principal | None = None


@dataclass(slots=True)
class Exchange:
    """One API request as it goes through the steps: what each learnt, for the ones after it."""

    route: Route
    caller: Caller | None = None
    limits: dict[str, str] = field(default_factory=dict)
    """The X-RateLimit-* headers, on every answer from the rate limit on (errors and replays included)."""
    raw: bytes = b""
    body: Any = None
    """The route's body decoded from ``raw`` once, for the admission and the route; None without one."""
    body_error: CommandError | None = None
    """Why the body did not decode: answered by the route (after the steps that answer first)."""
    admission: Admission | None = None
    """A key's scopes and caps were checked: what its send costs, and the counters it took."""
    resource_id: str | None = None
    """With an Idempotency-Key: the id of what the request creates, the same for every retry."""


EXCHANGE: web.RequestKey[Exchange | None] = web.RequestKey("exchange", Exchange)
"""Set on every request by ``routing``: None for what is not in the route table."""

_ANONYMOUS = Caller()
_IDEM_KEY_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-")
_LOGIN = "/v1/sessions"
REQUEST_ID = "X-Request-ID"
"""A log-in's answer carries a CSRF token: it is never kept for an Idempotency-Key replay."""


class Pipeline:
    """The steps and the parts they share; the parts that need NATS are filled in by ``app.setup``."""

    def __init__(self, svc: Service, settings: GatewaySettings, routes: list[Route]):
        self.svc = svc
        self.settings = settings
        self.auth: AuthCache | None = None
        self.limiter = RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
        self.signup_limiter = RateLimiter(settings.signup_rate_per_min / 60.0, settings.signup_rate_per_min)
        self.login_limiter = RateLimiter(settings.login_rate_per_min / 60.0, settings.login_rate_per_min)
        self.idem: Idempotency | None = None
        self.guard = KeyGuard(None, settings.price_per_segment_micros)  # its counters need NATS
        self.sessions: Sessions | None = None
        self.templates = PathTemplates(routes)
        self._table: dict[Any, Route] = {}
        self._latency: dict[tuple[str, str, int], Any] = {}  # labelled histogram children, made once

    def middlewares(self) -> list[Any]:
        return [self.routing, self.traced, self.enveloped, self.authenticated, self.rate_limited,
                self.read_body, self.admitted, self.idempotent, self.capped]

    def add_routes(self, router: web.UrlDispatcher, routes: list[Route]) -> None:
        """Each route, and HEAD beside each GET: the same steps and answer, its body left out (RFC 9110)."""
        for r in routes:
            self._table[router.add_route(r.method, r.path, self.endpoint)] = r
            if r.method == "GET":
                self._table[router.add_route("HEAD", r.path, self.endpoint)] = r

    @web.middleware
    async def routing(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = self._table.get(request.match_info.route)
        if route is not None and "{" in route.path:  # a static sibling's path that only fits this template
            found = self.templates.of(request.path)
            if found is not None and found[0] != route.path:
                return method_not_allowed(request, found[1])  # that path's methods
        request[EXCHANGE] = Exchange(route) if route is not None else None
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return error_response("NOT_FOUND", f"no route for {request.method} {request.path}", 404)
        except web.HTTPMethodNotAllowed as exc:
            found = self.templates.of(request.path)
            return method_not_allowed(request, found[1] if found else sorted(exc.allowed_methods))

    @web.middleware
    async def traced(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        if ex is None:
            return await handler(request)
        route = ex.route
        started = time.perf_counter()
        with server_span(f"{route.method} {route.path}", request.headers) as span:
            resp = await handler(request)
            span.set_attribute("http.status_code", resp.status)
            if not resp.prepared:  # the id to quote to support: every log line of the request carries it
                resp.headers[REQUEST_ID] = format(span.get_span_context().trace_id, "032x")
            # inside the span: the line carries the request's trace_id and span_id
            log.info("http_request", method=request.method, path=request.path, route=route.path,
                     status=resp.status, ms=round((time.perf_counter() - started) * 1000, 2))
        if request.get(CLOSE):
            resp.force_close()
        child = self._latency.get((route.method, route.path, resp.status))
        if child is None:
            child = self._latency[(route.method, route.path, resp.status)] = HTTP_LATENCY.labels(
                f"{route.method} {route.path}", str(resp.status))
        child.observe(time.perf_counter() - started)
        return resp

    @web.middleware
    async def enveloped(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        if ex is None:
            return await handler(request)
        try:
            return await handler(request)
        except CommandError as exc:
            headers = dict(ex.limits)
            if exc.status == 503 or exc.code == "IDEMPOTENCY_IN_FLIGHT":
                headers["Retry-After"] = str(exc.details.get("retry_after_s", self.settings.retry_after_s))
            headers.update(retry_after(exc))  # CAP_EXCEEDED: when the cap resets
            return error_response(exc.code, exc.message, exc.status, exc.details, headers=headers or None)
        except FAULTS as exc:
            # NATS gone or slow (the idempotency store, a request): a fault, never the client's doing
            log.warning("http_fault", path=request.path, error=repr(exc))
            return error_response("SERVICE_UNAVAILABLE", "a backing service is not available; retry", 503,
                                  headers={**ex.limits, "Retry-After": str(self.settings.retry_after_s)})
        except Exception as exc:
            log.exception("http_unhandled", path=request.path, error=repr(exc))
            return error_response("INTERNAL", "internal error; it has been logged", 500)

    @web.middleware
    async def authenticated(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        if ex is not None and ex.route.auth:
            assert self.auth is not None and self.sessions is not None
            authorization = request.headers.get("Authorization")
            if authorization is None and sessions.COOKIE in request.cookies:
                view = await self.sessions.for_api(request)
                ex.caller = Caller(view.org_id, f"session:{view.id}", view.user_id, view.id)
            else:
                principal = await self.auth.principal(authorization)
                ex.caller = Caller(principal.org_id, principal.key_id, principal=principal)
        return await handler(request)

    @web.middleware
    async def rate_limited(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        if ex is None:
            return await handler(request)
        if ex.route.auth:
            assert ex.caller is not None
            ok, ex.limits = self.limiter.take(ex.caller.key_id)
            if not ok:
                return error_response("RATE_LIMITED", "too many requests; slow down and retry after "
                                      f"{ex.limits['Retry-After']} s", 429, headers=ex.limits)
        elif ex.route.method == "POST":
            login = ex.route.path == _LOGIN
            limiter = self.login_limiter if login else self.signup_limiter
            ok, ex.limits = limiter.take(request.remote or "?")
            if not ok:
                what = "log-in attempts" if login else "signups"
                return error_response("RATE_LIMITED", f"too many {what} from this address", 429,
                                      headers=ex.limits)
        return await handler(request)

    @web.middleware
    async def read_body(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        if ex is not None:
            ex.raw = await read_body(request, self.settings.max_body_bytes)
            if ex.route.body is not None:
                try:
                    ex.body = decode_body(ex.raw, ex.route.body)
                except CommandError as exc:
                    ex.body_error = exc
        return await handler(request)

    @web.middleware
    async def admitted(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        if ex is not None and ex.caller is not None and ex.caller.principal is not None:
            ex.admission = self.guard.admit(ex.route.method, ex.route.path, ex.caller.principal, ex.raw, ex.body)
        return await handler(request)

    @web.middleware
    async def idempotent(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        idem_key = request.headers.get("Idempotency-Key")
        if ex is None or idem_key is None or ex.route.method != "POST" or ex.route.path == _LOGIN:
            return await handler(request)
        if not (1 <= len(idem_key) <= 255) or not set(idem_key) <= _IDEM_KEY_OK:
            raise CommandError("VALIDATION_ERROR", "Idempotency-Key: must match ^[A-Za-z0-9_:-]{1,255}$", 400,
                               {"field": "Idempotency-Key"})
        assert self.idem is not None
        org_id = (ex.caller or _ANONYMOUS).org_id
        slot = Idempotency.slot(org_id or f"anon:{request.remote}", request.method, request.path, idem_key)
        body_hash = Idempotency.fingerprint(ex.raw, slot, anonymous=not org_id)
        stored = await self.idem.begin(slot, body_hash)
        if stored is not None:
            return web.Response(body=stored.body, status=stored.status, content_type=stored.content_type,
                                headers={**ex.limits, "Idempotent-Replayed": "true"})
        ex.resource_id = Idempotency.resource_id(slot)
        try:
            resp = await handler(request)
        except BaseException:
            await self.idem.release(slot)
            raise
        if isinstance(resp, web.Response):
            assert resp.body is None or isinstance(resp.body, bytes)
            try:
                await self.idem.finish(slot, body_hash, resp.status, resp.body or b"",
                                       resp.content_type or "application/json")
            except Exception as exc:  # the answer stands; the key's lease frees it for a retry
                log.warning("idempotency_not_recorded", path=request.path, error=repr(exc))
        return resp

    @web.middleware
    async def capped(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ex = request[EXCHANGE]
        adm = ex.admission if ex is not None else None
        if adm is None:
            return await handler(request)
        try:
            await self.guard.reserve(adm)
            resp = await handler(request)
        except BaseException:
            await self.guard.release(adm)
            raise
        if (adm.counted or adm.tallied) and not 200 <= resp.status < 300:
            await self.guard.release(adm)
        return resp

    async def endpoint(self, request: web.Request) -> web.StreamResponse:
        """The route itself, past every step: decode, call its handler, answer in the envelope."""
        ex = request[EXCHANGE]
        assert ex is not None
        route, caller = ex.route, ex.caller or _ANONYMOUS
        check_text(dict(request.match_info), "")
        if ex.body_error is not None:
            raise ex.body_error
        body = ex.body
        query = decode_query(request.query, route.query) if route.query is not None else None
        ctx = Ctx(request=request, rpc=self.svc.rpc, org_id=caller.org_id, key_id=caller.key_id, body=body,
                  query=query, path=dict(request.match_info), env=self.settings.env, nc=self.svc.nc,
                  subjects=self.svc.subjects, user_id=caller.user_id, session_id=caller.session_id,
                  resource_id=ex.resource_id, read_retry_budget_s=self.settings.read_retry_budget_s)
        result = await route.handler(ctx)
        if isinstance(result, web.StreamResponse):
            return result
        reply = result if isinstance(result, Reply) else Reply(result, status=route.status)
        meta = reply.meta
        if route.paginated and meta is None:
            meta = {"next_cursor": None}
        resp = web.Response(body=envelope(reply.data, meta), status=reply.status, content_type="application/json",
                            headers={**ex.limits, **reply.headers})
        if self.sessions is not None:
            if reply.session_cookie is not None:
                self.sessions.set_cookie(resp, reply.session_cookie)
            elif reply.clear_session_cookie:
                self.sessions.clear_cookie(resp)
        return resp

    async def authenticate(self, request: web.Request) -> None:
        """/mcp: the key (rate-limited, not expired) as for any /v1 route; scopes apply per tool call."""
        assert self.auth is not None
        principal = await self.auth.principal(request.headers.get("Authorization"))
        ok, headers = self.limiter.take(principal.key_id)
        if not ok:
            raise CommandError("RATE_LIMITED", "too many requests; slow down", 429,
                               {"retry_after": headers["Retry-After"]})
        if principal.expires_at is not None:
            self.guard.admit("GET", "/mcp", msgspec.structs.replace(principal, scopes=None), b"")


class PathTemplates:
    """The one route template a path names, with its methods, as the document lists them: the most
    specific one (/v1/consent/export, not /v1/consent/{contact_number}). aiohttp's own 405 merges every
    template the path fits, and its router gives DELETE /v1/consent/export to {contact_number}."""

    def __init__(self, routes: list[Route]):
        self._methods: dict[str, set[str]] = {}
        for r in routes:
            self._methods.setdefault(r.path, set()).update((r.method, "HEAD") if r.method == "GET" else (r.method,))
        self._compiled = sorted(
            ((re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(t)) + "$"), t) for t in self._methods),
            key=lambda x: (x[1].count("{"), -len(x[1])))

    def of(self, path: str) -> tuple[str, list[str]] | None:
        for rx, t in self._compiled:
            if rx.match(path):
                return t, sorted(self._methods[t])
        return None


def method_not_allowed(request: web.Request, allowed: list[str]) -> web.Response:
    return error_response("METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}", 405,
                          {"allowed": allowed}, headers={"Allow": ", ".join(allowed)})
