"""Dashboard sessions through the public API: log in, the cookie + CSRF header as /v1 auth, log out,
log out everywhere (on every gateway replica), rate limits, and a password that never rides on NATS."""

from __future__ import annotations

import uuid
from typing import Any

import nats

from services.gateway.sessions import csrf_token
from tests.system import System

PASSWORD = "correct horse battery"


async def _account(system: System) -> str:
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    status, body, _ = await system.call("POST", "/v1/signup", json={
        "email": email, "password": PASSWORD, "organization_name": "Session Org"})
    assert status == 201, body
    return email


async def _login(system: System, email: str, password: str = PASSWORD) -> tuple[int, Any, str]:
    assert system.http is not None
    async with system.http.post(system.gateway + "/v1/sessions", json={"email": email, "password": password}) as r:
        body = await r.json()
        cookie = r.cookies.get("am_session")
        return r.status, body, cookie.value if cookie is not None else ""


def _jar(token: str, csrf: bool = True) -> dict[str, str]:
    headers = {"Cookie": f"am_session={token}"}
    if csrf:
        headers["X-CSRF-Token"] = csrf_token(token)
    return headers


async def test_a_session_authenticates_v1_only_with_its_csrf_token(system: System) -> None:
    email = await _account(system)
    status, body, token = await _login(system, email)
    assert status == 201, body
    assert body["data"]["csrf_token"] == csrf_token(token) and body["data"]["email"] == email
    assert token and token not in str(body)

    status, body, _ = await system.call("GET", "/v1/balance", headers=_jar(token))
    assert status == 200 and body["data"]["balance"] == "5.0000"
    # a state change with the cookie alone, a wrong token, or from another origin: refused
    status, body, _ = await system.call("POST", "/v1/api-keys", json={"name": "x"}, headers=_jar(token, csrf=False))
    assert status == 403 and body["error"]["code"] == "CSRF_FAILED"
    status, body, _ = await system.call("POST", "/v1/api-keys", json={"name": "x"},
                                        headers={**_jar(token, csrf=False), "X-CSRF-Token": "0" * 64})
    assert status == 403 and body["error"]["code"] == "CSRF_FAILED"
    status, body, _ = await system.call("POST", "/v1/api-keys", json={"name": "x"},
                                        headers={**_jar(token), "Origin": "https://evil.example"})
    assert status == 403 and body["error"]["code"] == "CSRF_FAILED"
    status, body, _ = await system.call("POST", "/v1/api-keys", json={"name": "x"}, headers=_jar(token))
    assert status == 201 and body["data"]["secret"].startswith("am_live_")

    status, body, _ = await system.call("GET", "/v1/sessions/current", headers=_jar(token))
    assert status == 200 and body["data"]["email"] == email

    # log out: the cookie is cleared and the session is over
    status, body, headers = await system.call("DELETE", "/v1/sessions/current", headers=_jar(token))
    assert status == 200 and body["data"]["ended"] == 1
    assert "am_session=" in headers.get("Set-Cookie", "")
    status, body, _ = await system.call("GET", "/v1/balance", headers=_jar(token))
    assert status == 401 and body["error"]["code"] == "UNAUTHORIZED"


async def test_wrong_passwords_are_refused_and_login_is_rate_limited(system: System) -> None:
    email = await _account(system)
    status, body, token = await _login(system, email, "not the password")
    assert status == 401 and body["error"]["code"] == "INVALID_CREDENTIALS" and not token
    status, body, _ = await system.call("POST", "/v1/sessions", json={"email": email, "password": PASSWORD},
                                        headers={"Origin": "https://evil.example"})
    assert status == 403 and body["error"]["code"] == "CSRF_FAILED"  # no log-in CSRF
    status, body, _ = await _login(system, "nobody@example.com")
    assert status == 401 and body["error"]["code"] == "INVALID_CREDENTIALS"  # the same answer
    statuses = [(await _login(system, email, "still wrong"))[0] for _ in range(12)]
    assert statuses[:6] == [401] * 6 and 429 in statuses, statuses


async def test_log_out_everywhere_reaches_another_gateway_replica(system: System) -> None:
    other, url = await system.another_gateway()
    try:
        email = await _account(system)
        tokens = [(await _login(system, email))[2] for _ in range(2)]
        assert system.http is not None
        replica = f"{url}/v1/balance"
        for t in tokens:  # both replicas know both sessions (and cache them)
            async with system.http.get(replica, headers=_jar(t)) as r:
                assert r.status == 200
        status, body, _ = await system.call("DELETE", "/v1/sessions", headers=_jar(tokens[0]))
        assert status == 200 and body["data"]["ended"] == 2

        async def refused() -> bool:
            assert system.http is not None
            async with system.http.get(replica, headers=_jar(tokens[1])) as r:
                return r.status == 401

        await system.eventually(refused, timeout=1.0, interval=0.02)
    finally:
        await other.stop()


async def test_the_password_never_travels_on_nats(system: System) -> None:
    email = await _account(system)
    seen: list[bytes] = []
    nc = await nats.connect(system.env["AM_NATS_URL"])
    try:
        async def record(msg: Any) -> None:
            seen.append(msg.data)

        await nc.subscribe(">", cb=record)
        await nc.flush()
        status, _, _ = await _login(system, email)
        assert status == 201
        status, _, _ = await _login(system, email, "a wrong one")
        assert status == 401
        await nc.flush()
    finally:
        await nc.drain()
    assert any(b"$argon2id$" in d for d in seen)  # the logins did pass here: accounts answered the hash
    assert not any(PASSWORD.encode() in d or b"a wrong one" in d for d in seen)


async def test_dashboard_pages_answer_503_not_500_when_accounts_is_down(system: System) -> None:
    email = await _account(system)
    _, _, token = await _login(system, email)
    status, page, _ = await system.call("GET", "/settings", headers={"Cookie": f"am_session={token}"},
                                        allow_redirects=False)
    assert status == 200 and "csrf-token" in page
    await system.services["accounts"].stop()
    # a session the gateway has not seen yet must be asked for: accounts does not answer
    status, page, headers = await system.call("GET", "/", headers={"Cookie": "am_session=" + "x" * 43},
                                              allow_redirects=False)
    assert status == 503 and "cannot reach its services" in page and headers["Retry-After"] == "5"
    status, body, _ = await system.call("POST", "/v1/sessions", json={"email": email, "password": PASSWORD})
    assert status == 503 and body["error"]["code"] in ("SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT")


async def test_an_api_key_can_end_every_dashboard_session_of_its_organization(system: System) -> None:
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    status, body, _ = await system.call("POST", "/v1/signup", json={
        "email": email, "password": PASSWORD, "organization_name": "Session Org"})
    key = body["data"]["api_key"]["secret"]
    other = await _account(system)  # another organization's session is left alone
    mine, theirs = (await _login(system, email))[2], (await _login(system, other))[2]
    status, body, _ = await system.call("GET", "/v1/sessions/current", key=key)
    assert status == 404  # an API key is no session
    status, body, _ = await system.call("DELETE", "/v1/sessions", key=key)
    assert status == 200 and body["data"]["ended"] == 1
    assert (await system.call("GET", "/v1/balance", headers=_jar(mine)))[0] == 401
    assert (await system.call("GET", "/v1/balance", headers=_jar(theirs)))[0] == 200


async def test_sessions_are_listed_and_ended_one_by_one_within_their_owner_only(system: System) -> None:
    email, other = await _account(system), await _account(system)
    first, second = (await _login(system, email))[2], (await _login(system, email))[2]
    theirs = (await _login(system, other))[2]
    status, body, _ = await system.call("GET", "/v1/sessions", headers=_jar(first))
    assert status == 200 and len(body["data"]) == 2
    assert [s["current"] for s in body["data"]].count(True) == 1
    mine = {s["id"] for s in body["data"]}
    _, body, _ = await system.call("GET", "/v1/sessions/current", headers=_jar(theirs))
    theirs_id = body["data"]["id"]
    status, body, _ = await system.call("DELETE", f"/v1/sessions/{theirs_id}", headers=_jar(first))
    assert status == 404  # another user's session is not yours to end
    assert (await system.call("GET", "/v1/balance", headers=_jar(theirs)))[0] == 200
    _, body, _ = await system.call("GET", "/v1/sessions/current", headers=_jar(second))
    second_id = body["data"]["id"]
    assert second_id in mine
    status, body, _ = await system.call("DELETE", f"/v1/sessions/{second_id}", headers=_jar(first))
    assert status == 200 and body["data"]["ended"] == 1
    assert (await system.call("GET", "/v1/balance", headers=_jar(second)))[0] == 401
    assert (await system.call("GET", "/v1/balance", headers=_jar(first)))[0] == 200
