"""Pure parts of dashboard sessions: the cookie's flags and the CSRF token's derivation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.gateway.sessions import COOKIE, Sessions, csrf_token, token_hash


def _cookie_header(secure: bool) -> str:
    s = Sessions(rpc=Any, ttl_s=3600, cache_ttl_s=60, secure_cookie=secure, login_per_min=10)  # type: ignore[arg-type]
    resp = web.Response()
    s.set_cookie(resp, "tok")
    return resp.cookies[COOKIE].output(header="").strip()


def test_the_session_cookie_is_httponly_samesite_and_secure_outside_dev() -> None:
    prod = _cookie_header(secure=True)
    assert prod.startswith(f"{COOKIE}=tok;")
    assert "HttpOnly" in prod and "SameSite=Lax" in prod and "Secure" in prod and "Max-Age=3600" in prod
    assert "Secure" not in _cookie_header(secure=False)


def test_the_csrf_token_is_bound_to_its_session_and_not_its_hash() -> None:
    a, b = "a" * 43, "b" * 43
    assert csrf_token(a) == csrf_token(a) and csrf_token(a) != csrf_token(b)
    assert csrf_token(a) != token_hash(a)  # what accounts stores cannot be turned into the CSRF token
    assert len(csrf_token(a)) == 64
