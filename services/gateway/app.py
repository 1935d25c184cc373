"""gateway bootstrap: the explicit route table behind auth, limits, idempotency and the envelope."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any

import msgspec
import structlog
from aiohttp import web

from libs.obs.metrics import HTTP_LATENCY
from libs.obs.settings import load_settings
from libs.obs.tracing import server_span
from libs.runtime.service import Service
from proto.base import CommandError
from services.gateway import dashboard, openapi, sessions
from services.gateway.api import (
    EVICT_KEY,
    FAULTS,
    Ctx,
    Reply,
    Route,
    check_text,
    decode_body,
    decode_query,
    envelope,
    error_response,
)
from services.gateway.config import GatewaySettings
from services.gateway.edge import AuthCache, Idempotency, RateLimiter
from services.gateway.mcp import McpEndpoint
from services.gateway.routes import all_routes
from services.gateway.scopes import GUARD_KEY, Admission, KeyGuard, UsageCounters, retry_after
from services.gateway.sessions import SESSIONS_KEY, Sessions

log = structlog.get_logger(__name__)

_CLOSE: web.RequestKey[bool] = web.RequestKey("close_after_answer", bool)
"""Set on a request whose body could not be read: answer it, then close the connection."""
_IDEM_KEY_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-")


class Gateway:
    def __init__(self, svc: Service, settings: GatewaySettings):
        self.svc = svc
        self.settings = settings
        self.auth: AuthCache | None = None  # needs the NATS connection: made in setup
        self.limiter = RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
        self.signup_limiter = RateLimiter(settings.signup_rate_per_min / 60.0, settings.signup_rate_per_min)
        self.login_limiter = RateLimiter(settings.login_rate_per_min / 60.0, settings.login_rate_per_min)
        self.idem: Idempotency | None = None
        self.guard = KeyGuard(None, settings.price_per_segment_micros)  # its counters need NATS: set in setup
        self.sessions: Sessions | None = None

    def handler(self, route: Route, template_of: Any) -> Any:
        name = f"{route.method} {route.path}"
        latency: dict[int, Any] = {}  # labelled histogram children, looked up once per status
        parametric = "{" in route.path

        async def handle(request: web.Request) -> web.StreamResponse:
            if parametric:  # a static sibling's path that only fits this template: that path's methods
                found = template_of(request.path)
                if found is not None and found[0] != route.path:
                    return method_not_allowed(request, found[1])
            started = time.perf_counter()
            with server_span(name, request.headers) as span:
                resp = await self._handle(route, request)
                span.set_attribute("http.status_code", resp.status)
                # inside the span: the line carries the request's trace_id and span_id
                log.info("http_request", method=request.method, path=request.path, route=route.path,
                         status=resp.status, ms=round((time.perf_counter() - started) * 1000, 2))
            if request.get(_CLOSE):
                resp.force_close()
            child = latency.get(resp.status)
            if child is None:
                child = latency[resp.status] = HTTP_LATENCY.labels(name, str(resp.status))
            child.observe(time.perf_counter() - started)
            return resp

        return handle

    async def _handle(self, route: Route, request: web.Request) -> web.StreamResponse:
        limit_headers: dict[str, str] = {}
        try:
            org_id = key_id = user_id = session_id = ""
            principal = None
            adm: Admission | None = None
            if route.auth:
                assert self.auth is not None and self.sessions is not None
                authorization = request.headers.get("Authorization")
                if authorization is None and sessions.COOKIE in request.cookies:
                    view = await self.sessions.for_api(request)
                    org_id, user_id, session_id = view.org_id, view.user_id, view.id
                    key_id = f"session:{view.id}"
                else:
                    principal = await self.auth.principal(authorization)
                    org_id, key_id = principal.org_id, principal.key_id
                ok, limit_headers = self.limiter.take(key_id)
                if not ok:
                    return error_response("RATE_LIMITED", "too many requests; slow down and retry after "
                                          f"{limit_headers['Retry-After']} s", 429, headers=limit_headers)
            elif route.method == "POST":
                login = route.path == "/v1/sessions"
                limiter = self.login_limiter if login else self.signup_limiter
                ok, limit_headers = limiter.take(request.remote or "?")
                if not ok:
                    what = "log-in attempts" if login else "signups"
                    return error_response("RATE_LIMITED", f"too many {what} from this address", 429,
                                          headers=limit_headers)
            raw = await self._read_body(request)
            if principal is not None:
                adm = self.guard.admit(route.method, route.path, principal, raw)  # scopes and caps
            idem_key = request.headers.get("Idempotency-Key")
            slot = body_hash = ""
            # a login's answer carries a CSRF token: it is never stored for replay
            if idem_key is not None and request.method == "POST" and route.path != "/v1/sessions":
                if not (1 <= len(idem_key) <= 255) or not set(idem_key) <= _IDEM_KEY_OK:
                    raise CommandError("VALIDATION_ERROR",
                                       "Idempotency-Key: must match ^[A-Za-z0-9_:-]{1,255}$", 400,
                                       {"field": "Idempotency-Key"})
                assert self.idem is not None
                scope = org_id or f"anon:{request.remote}"
                slot = Idempotency.slot(scope, request.method, request.path, idem_key)
                body_hash = _body_fingerprint(raw, slot, anonymous=not org_id)
                stored = await self.idem.begin(slot, body_hash)
                if stored is not None:
                    headers = {**limit_headers, "Idempotent-Replayed": "true"}
                    return web.Response(body=stored.body, status=stored.status,
                                        content_type=stored.content_type, headers=headers)
            try:
                if adm is not None:
                    await self.guard.reserve(adm)
                resp = await self._call(route, request, raw, org_id, key_id, limit_headers, user_id,
                                        session_id, Idempotency.resource_id(slot) if slot else None)
                if adm is not None and adm.counted and not 200 <= resp.status < 300:
                    await self.guard.release(adm)
            except BaseException:
                if adm is not None:
                    await self.guard.release(adm)
                if slot:
                    await self._release(slot)
                raise
            if slot and isinstance(resp, web.Response):
                assert resp.body is None or isinstance(resp.body, bytes)
                try:
                    assert self.idem is not None
                    await self.idem.finish(slot, body_hash, resp.status, resp.body or b"",
                                           resp.content_type or "application/json")
                except Exception as exc:  # the answer stands; the key's lease frees it for a retry
                    log.warning("idempotency_not_recorded", path=request.path, error=repr(exc))
            return resp
        except CommandError as exc:
            headers = dict(limit_headers)
            if exc.status == 503 or exc.code == "IDEMPOTENCY_IN_FLIGHT":
                retry = exc.details.get("retry_after_s", self.settings.retry_after_s)
                headers["Retry-After"] = str(retry)
            headers.update(retry_after(exc))  # CAP_EXCEEDED: when the cap resets
            return error_response(exc.code, exc.message, exc.status, exc.details, headers=headers or None)
        except FAULTS as exc:
            # NATS gone or slow (the idempotency store, a request): a fault, never the client's doing
            log.warning("http_fault", path=request.path, error=repr(exc))
            return error_response("SERVICE_UNAVAILABLE", "a backing service is not available; retry", 503,
                                  headers={**limit_headers, "Retry-After": str(self.settings.retry_after_s)})
        except Exception as exc:
            log.exception("http_unhandled", path=request.path, error=repr(exc))
            return error_response("INTERNAL", "internal error; it has been logged", 500)

    async def authenticate(self, request: web.Request) -> None:
        """/mcp: the key (rate-limited, not expired) as for any /v1 route; scopes apply per tool call."""
        assert self.auth is not None
        principal = await self.auth.principal(request.headers.get("Authorization"))
        ok, headers = self.limiter.take(principal.key_id)
        if not ok:
            raise CommandError("RATE_LIMITED", "too many requests; slow down", 429, {"retry_after": headers["Retry-After"]})
        caps = principal.caps
        if caps is not None and caps.expires_at is not None:
            self.guard.admit("GET", "/mcp", msgspec.structs.replace(principal, scopes=None), b"")
    async def _release(self, slot: str) -> None:
        """Free a key whose request ended without an answer to keep; if even that fails, its lease does."""
        try:
            assert self.idem is not None
            await self.idem.kv.delete(slot)
        except Exception as exc:
            log.warning("idempotency_not_released", error=repr(exc))

    async def _read_body(self, request: web.Request) -> bytes:
        if request.method not in ("POST", "PATCH", "PUT"):
            return b""
        if request.content_length and request.content_length > self.settings.max_body_bytes:
            raise CommandError("PAYLOAD_TOO_LARGE", f"request body over {self.settings.max_body_bytes} bytes", 413)
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # aiohttp would inflate it, and a body that is not what the header says fails while it is read,
            # taking the answer down with the connection: refuse it unread, and close after answering
            request[_CLOSE] = True
            raise CommandError("UNSUPPORTED_MEDIA_TYPE", "send the body uncompressed, without Content-Encoding",
                               415, {"field": "Content-Encoding"})
        try:
            raw = await request.content.read(self.settings.max_body_bytes + 1)
        except Exception as exc:  # the connection broke mid-body, or the body is not what its headers say
            request[_CLOSE] = True
            raise CommandError("VALIDATION_ERROR", f"body: could not be read ({exc.__class__.__name__})", 400,
                               {"field": "body"}) from exc
        if len(raw) > self.settings.max_body_bytes:
            raise CommandError("PAYLOAD_TOO_LARGE", f"request body over {self.settings.max_body_bytes} bytes", 413)
        if raw.strip() and request.content_type not in ("application/json", ""):
            raise CommandError("UNSUPPORTED_MEDIA_TYPE", "send JSON with Content-Type: application/json", 415)
        return raw

    async def _call(self, route: Route, request: web.Request, raw: bytes, org_id: str, key_id: str,
                    limit_headers: dict[str, str], user_id: str = "", session_id: str = "",
                    resource_id: str | None = None) -> web.StreamResponse:
        check_text(dict(request.match_info), "")
        body = decode_body(raw, route.body) if route.body is not None else None
        query = decode_query(request.query, route.query) if route.query is not None else None
        ctx = Ctx(request=request, rpc=self.svc.rpc, org_id=org_id, key_id=key_id, body=body, query=query,
                  path=dict(request.match_info), env=self.settings.env,
                  nc=self.svc.nc, subjects=self.svc.subjects, user_id=user_id, session_id=session_id,
                  resource_id=resource_id, read_retry_budget_s=self.settings.read_retry_budget_s)
        result = await route.handler(ctx)
        if isinstance(result, web.StreamResponse):
            return result
        reply = result if isinstance(result, Reply) else Reply(result, status=route.status)
        meta = reply.meta
        if route.paginated and meta is None:
            meta = {"next_cursor": None}
        resp = web.Response(body=envelope(reply.data, meta), status=reply.status, content_type="application/json",
                            headers={**limit_headers, **reply.headers})
        if self.sessions is not None:
            if reply.session_cookie is not None:
                self.sessions.set_cookie(resp, reply.session_cookie)
            elif reply.clear_session_cookie:
                self.sessions.clear_cookie(resp)
        return resp


async def _not_found(request: web.Request) -> web.Response:
    return error_response("NOT_FOUND", f"no route for {request.method} {request.path}", 404)


def _path_templates(routes: list[Route]) -> Any:
    """The one route template a path names, with its methods, as the document lists them: the most
    specific one (/v1/consent/export, not /v1/consent/{contact_number}). aiohttp's own 405 merges every
    template the path fits, and its router gives DELETE /v1/consent/export to {contact_number}."""
    templates: dict[str, set[str]] = {}
    for r in routes:
        templates.setdefault(r.path, set()).add(r.method)
    compiled = sorted(((re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(t)) + "$"), t) for t in templates),
                      key=lambda x: (x[1].count("{"), -len(x[1])))

    def template(path: str) -> tuple[str, list[str]] | None:
        for rx, t in compiled:
            if rx.match(path):
                return t, sorted(templates[t])
        return None

    return template


def method_not_allowed(request: web.Request, allowed: list[str]) -> web.Response:
    return error_response("METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}", 405,
                          {"allowed": allowed}, headers={"Allow": ", ".join(allowed)})


def _errors(routes: list[Route]) -> Any:
    template_of = _path_templates(routes)

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except web.HTTPNotFound:
            return error_response("NOT_FOUND", f"no route for {request.method} {request.path}", 404)
        except web.HTTPMethodNotAllowed as exc:
            found = template_of(request.path)
            return method_not_allowed(request, found[1] if found else sorted(exc.allowed_methods))

    return errors


def build(env: Mapping[str, str] | None = None) -> tuple[Service, Any]:
    settings = load_settings(GatewaySettings, env)
    svc_settings = msgspec.structs.replace(settings, http_port=settings.gateway_port,
                                           http_host=settings.gateway_host)
    svc = Service("gateway", svc_settings, domain=None, uses_db=False)
    routes = all_routes()
    svc.http.middlewares.append(_errors(routes))
    gw = Gateway(svc, settings)
    svc.http[EVICT_KEY] = lambda key_id: gw.auth.evict_key(key_id) if gw.auth else None
    svc.http[GUARD_KEY] = gw.guard
    template_of = _path_templates(routes)
    for r in routes:
        svc.http.router.add_route(r.method, r.path, gw.handler(r, template_of))
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::", "") else settings.gateway_host
    mcp = McpEndpoint(gw.authenticate, lambda: settings.mcp_api_url or f"http://{host}:{svc.port}")
    svc.http.router.add_route("*", "/mcp", mcp.handle)
    svc.http.router.add_get("/v1/openapi.json", openapi.serve_document(routes, settings.public_url))
    svc.http.router.add_get("/docs", openapi.serve_docs(routes, settings.public_url))
    dashboard.add_routes(svc.http)

    async def setup(s: Service) -> None:
        s.rpc.default_timeout = settings.rpc_timeout_s
        gw.idem = await Idempotency.open(s.nc, s.subjects, settings.idempotency_ttl_s, settings.idempotency_lease_s,
                                        replicas=s.settings.stream_replicas)
        gw.auth = AuthCache(s.rpc, settings.auth_cache_ttl_s)
        gw.guard.usage = usage = await UsageCounters.open(s.nc, s.subjects, replicas=s.settings.stream_replicas)
        s.on_stop(usage.close)
        await mcp.start()
        s.on_stop(mcp.stop)
        await gw.auth.follow_revocations(s.nc, s.subjects)
        s.on_reconnect(gw.auth.forget_all)  # a revocation published while we were away was missed
        gw.sessions = Sessions(s.rpc, ttl_s=settings.session_ttl_s, cache_ttl_s=settings.auth_cache_ttl_s,
                               secure_cookie=settings.env not in ("dev", "test"),
                               login_per_min=settings.login_rate_per_min)
        s.http[SESSIONS_KEY] = gw.sessions
        await gw.sessions.follow_endings(s.nc, s.subjects)
        s.on_reconnect(gw.sessions.forget_all)

    return svc, setup


def _body_fingerprint(raw: bytes, slot: str, *, anonymous: bool) -> str:
    """What tells a retried request from another one under the same Idempotency-Key, kept in the KV
    bucket. An anonymous POST (signup) carries a password: its fingerprint is a salted, memory-hard
    scrypt so that reading the bucket gives no cheap way to test guesses; a keyed request's body holds
    no secret and a plain SHA-256 keeps sends cheap."""
    if anonymous:
        return hashlib.scrypt(raw, salt=slot.encode(), n=2**14, r=8, p=1, maxmem=64 * 1024 * 1024).hex()
    return hashlib.sha256(raw).hexdigest()

