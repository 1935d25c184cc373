"""The web dashboard at the gateway's origin: server-rendered page shells (navigation, the session's CSRF
token) and local ES modules that draw every page from the public /v1 API, so the dashboard can do
nothing the API cannot. No build step, no CDN: the modules and stylesheet are served from ``static/``."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import structlog
from aiohttp import web

from proto.base import CommandError
from proto.commands import accounts as c
from services.gateway.api import FAULTS
from services.gateway.sessions import COOKIE, SESSIONS_KEY, csrf_token

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Page:
    path: str
    page: str
    """The script's name for the page (``data-page``)."""
    title: str
    nav: str
    """The navigation entry marked current."""


PAGES = [
    Page("/", "overview", "Overview", "Overview"),
    Page("/phone-numbers", "numbers", "Phone numbers", "Phone numbers"),
    Page("/inbound", "inbound", "Inbound", "Inbound"),
    Page("/messages", "messages", "Messages", "Messages"),
    Page("/messages/{id}", "message", "Message", "Messages"),
    Page("/10dlc", "tendlc", "10DLC", "10DLC"),
    Page("/compliance", "compliance", "Compliance", "Compliance"),
    Page("/billing", "billing", "Billing", "Billing"),
    Page("/settings", "settings", "Settings", "Settings"),
    Page("/settings/api-keys", "keys", "API keys", "API keys"),
]

NAV = [("Overview", "/"), ("Phone numbers", "/phone-numbers"), ("Inbound", "/inbound"), ("Messages", "/messages"),
       ("10DLC", "/10dlc"), ("Compliance", "/compliance"), ("Billing", "/billing"), ("Settings", "/settings"),
       ("API keys", "/settings/api-keys")]


def _head(title: str, csrf: str = "") -> str:
    meta = f'<meta name="csrf-token" content="{html.escape(csrf)}">' if csrf else ""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)} · AgentMessage</title>{meta}"
            "<link rel='icon' href='data:,'><link rel='stylesheet' href='/static/app.css'></head>")


def shell(page: Page, email: str, org_name: str, csrf: str) -> str:
    links = []
    for name, href in NAV:
        current = " aria-current='page'" if name == page.nav else ""
        cls = " class='sub'" if name == "API keys" else ""
        links.append(f"<li{cls}><a href='{href}'{current}>{html.escape(name)}</a></li>")
    return (
        _head(page.title, csrf)
        + "<body><a class='skip' href='#main'>Skip to content</a><div class='layout'>"
        "<header class='side'><p class='brand'><span aria-hidden='true'>◆</span> AgentMessage</p>"
        f"<nav aria-label='Dashboard'><ul>{''.join(links)}</ul></nav>"
        f"<div class='who'><p class='org'>{html.escape(org_name)}</p><p class='email'>{html.escape(email)}</p>"
        "<button type='button' id='logout' class='secondary'>Log out</button>"
        "<p><a href='/docs'>API reference</a></p></div></header>"
        f"<main id='main' tabindex='-1' data-page='{page.page}'><h1>{html.escape(page.title)}</h1>"
        "<div id='app' aria-busy='true'><p>Loading…</p></div></main></div>"
        "<div id='toast' role='status' aria-live='polite'></div>"
        "<script type='module' src='/static/app.js'></script></body></html>"
    )


def public_shell(page: str, title: str) -> str:
    return (
        _head(title)
        + "<body class='public'><main id='main' data-page='" + page + "' class='card narrow'>"
        "<p class='brand'><span aria-hidden='true'>◆</span> AgentMessage</p>"
        f"<h1>{html.escape(title)}</h1><div id='app'></div></main>"
        "<div id='toast' role='status' aria-live='polite'></div>"
        "<script type='module' src='/static/app.js'></script></body></html>"
    )


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS)


_UNAVAILABLE: tuple[type[BaseException], ...] = (CommandError, *FAULTS)
"""A backing service that answered an error, or the bus itself failing (no answer at all)."""


async def _session(request: web.Request) -> c.SessionView | None:
    """The request's live session; a backing service that does not answer is a 503 page, never a 500."""
    try:
        return await request.app[SESSIONS_KEY].lookup(request.cookies.get(COOKIE))
    except _UNAVAILABLE as exc:
        log.warning("dashboard_session_lookup_failed", code=getattr(exc, "code", type(exc).__name__))
        raise web.HTTPServiceUnavailable(
            text=public_shell("unavailable", "Service unavailable").replace(
                "<div id='app'></div>", "<div id='app'><p>The dashboard cannot reach its services right now. "
                "Retry in a moment.</p></div>"),
            content_type="text/html", headers={"Retry-After": "5", **SECURITY_HEADERS}) from exc


def _page_handler(page: Page) -> _Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(COOKIE)
        view = await _session(request)
        if view is None or token is None:
            log.info("http_request", method="GET", path=request.path, route=page.path, status=302)
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='/')}")
        log.info("http_request", method="GET", path=request.path, route=page.path, status=200,
                 org_id=view.org_id)
        return _html(shell(page, view.email, view.organization_name, csrf_token(token)))

    return handler


def _public_handler(page: str, title: str) -> _Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if await _session(request) is not None:
            raise web.HTTPFound("/")
        return _html(public_shell(page, title))

    return handler


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    return web.FileResponse(path, headers={"Content-Type": types.get(path.suffix, "application/octet-stream"),
                                           "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def add_routes(app: web.Application) -> None:
    for page in PAGES:
        app.router.add_get(page.path, _page_handler(page))
    app.router.add_get("/login", _public_handler("login", "Log in"))
    app.router.add_get("/signup", _public_handler("signup", "Sign up"))
    app.router.add_get("/static/{name}", _static)
