"""gateway bootstrap: the explicit route table behind the request pipeline (``pipeline``), /mcp, the
document and the dashboard; the parts that need NATS made in ``setup``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.gateway import dashboard, openapi
from services.gateway.api import EVICT_KEY
from services.gateway.config import GatewaySettings
from services.gateway.edge import AuthCache, Idempotency
from services.gateway.mcp import McpEndpoint
from services.gateway.pipeline import Pipeline
from services.gateway.routes import all_routes
from services.gateway.sends import SENDS_KEY, Sends
from services.gateway.sessions import SESSIONS_KEY, Sessions
from services.gateway.usage import GUARD_KEY, UsageCounters


def build(env: Mapping[str, str] | None = None) -> tuple[Service, Any]:
    settings = load_settings(GatewaySettings, env)
    svc_settings = msgspec.structs.replace(settings, http_port=settings.gateway_port,
                                           http_host=settings.gateway_host)
    svc = Service("gateway", svc_settings, domain=None, uses_db=False)
    routes = all_routes()
    gw = Pipeline(svc, settings, routes)
    svc.http.middlewares.extend(gw.middlewares())
    svc.http[EVICT_KEY] = lambda key_id: gw.auth.evict_key(key_id) if gw.auth else None
    svc.http[GUARD_KEY] = gw.guard
    gw.add_routes(svc.http.router, routes)
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
        s.http[SENDS_KEY] = sends = Sends(s.rpc, settings.send_batch, settings.send_batches_in_flight)
        s.on_stop(sends.close)
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
