"""Signup, API keys, auth, scoping and the API's conventions, through the public gateway."""

from __future__ import annotations

import uuid

from tests.system import System


async def test_signup_returns_key_once_and_five_dollars(system: System) -> None:
    data = await system.signup()
    secret = data["api_key"]["secret"]
    assert secret.startswith("am_live_") and len(secret) >= 8 + 32
    status, body, _ = await system.call("GET", "/v1/balance", key=secret)
    assert status == 200, body
    assert body["success"] is True
    assert body["data"]["balance"] == "5.0000"
    status, body, _ = await system.call("GET", "/v1/api-keys", key=secret)
    assert status == 200
    assert all("secret" not in k or k["secret"] is None for k in body["data"])
    assert body["meta"] == {"next_cursor": None}


async def test_duplicate_email_is_409(system: System) -> None:
    email = f"dup-{uuid.uuid4().hex[:6]}@example.com"
    await system.signup(email)
    status, body, _ = await system.call("POST", "/v1/signup", json={
        "email": email.upper(), "password": "another password", "organization_name": "X"})
    assert status == 409
    assert body["error"]["code"] == "EMAIL_TAKEN"


async def test_auth_failures_are_401(system: System) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"},
                    {"Authorization": "Bearer am_live_" + "x" * 40}, {"Authorization": "Basic abc"}):
        status, body, _ = await system.call("GET", "/v1/balance", headers=headers)
        assert status == 401, headers
        assert body == {"success": False, "error": {"code": "UNAUTHORIZED", "message": body["error"]["message"],
                                                    "details": {}}}


async def test_revoked_key_stops_working_within_a_second(system: System) -> None:
    data = await system.signup()
    owner = data["api_key"]["secret"]
    status, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={"name": "temp"})
    assert status == 201
    temp, temp_id = body["data"]["secret"], body["data"]["id"]
    assert (await system.call("GET", "/v1/balance", key=temp))[0] == 200  # now cached
    status, _, _ = await system.call("DELETE", f"/v1/api-keys/{temp_id}", key=owner)
    assert status == 200

    async def refused() -> bool:  # the revocation's event evicts the cached key (within moments)
        return (await system.call("GET", "/v1/balance", key=temp))[0] == 401

    await system.eventually(refused, timeout=5)
    assert (await system.call("GET", "/v1/balance", key=owner))[0] == 200


async def test_revoking_a_key_answers_the_key_as_it_was(system: System) -> None:
    """The revoke's answer shows the key's scopes and caps: a null ``scopes`` would say it had every scope."""
    owner = (await system.signup())["api_key"]["secret"]
    status, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={
        "name": "reader", "preset": "read-only", "caps": {"expires_at": "2099-01-01T00:00:00Z"}})
    assert status == 201, body
    created = body["data"]
    assert (await system.call("GET", "/v1/balance", key=created["secret"]))[0] == 200
    status, body, _ = await system.call("DELETE", f"/v1/api-keys/{created['id']}", key=owner)
    assert status == 200, body
    revoked = body["data"]
    assert revoked["revoked_at"] is not None and revoked["secret"] is None
    assert revoked["scopes"] == created["scopes"] == ["messages:read", "numbers:read", "compliance:read",
                                                       "billing:read"]
    assert revoked["caps"] == created["caps"] and revoked["expires_at"] == "2099-01-01T00:00:00.000Z"


async def test_other_orgs_key_is_404(system: System) -> None:
    a = (await system.signup())["api_key"]["secret"]
    b_data = await system.signup()
    b_key_id = b_data["api_key"]["id"]
    status, body, _ = await system.call("DELETE", f"/v1/api-keys/{b_key_id}", key=a)
    assert status == 404
    assert body["error"]["code"] == "NOT_FOUND"
    assert (await system.call("GET", "/v1/balance", key=b_data["api_key"]["secret"]))[0] == 200


async def test_validation_envelope_names_the_field(system: System) -> None:
    status, body, _ = await system.call("POST", "/v1/signup", json={"email": "a@b.co", "password": "x"})
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["field"] in ("password", "organization_name")
    status, body, _ = await system.call("POST", "/v1/signup", data=b"{", headers={"Content-Type": "application/json"})
    assert status == 400
    status, body, _ = await system.call("POST", "/v1/signup", data=b"email=x", headers={"Content-Type": "text/plain"})
    assert status == 415
    status, body, _ = await system.call("POST", "/v1/signup", data=b"{" + b" " * 70000 + b"}",
                                        headers={"Content-Type": "application/json"})
    assert status == 413


async def test_idempotent_replay_and_reuse(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    h = {"Idempotency-Key": "create-ci-key-1"}
    s1, b1, _ = await system.call("POST", "/v1/api-keys", key=key, json={"name": "ci"}, headers=h)
    s2, b2, h2 = await system.call("POST", "/v1/api-keys", key=key, json={"name": "ci"}, headers=h)
    assert s1 == s2 == 201
    assert b1["data"]["secret"] and b2["data"]["secret"] is None  # a replay never shows the secret again
    assert {**b1["data"], "secret": None} == b2["data"]
    assert h2.get("Idempotent-Replayed") == "true"
    # the same JSON serialised anew (keys in another order, other white space) is the same request
    h5 = {"Idempotency-Key": "create-ci-key-2", "Content-Type": "application/json"}
    s5, b5, _ = await system.call("POST", "/v1/api-keys", key=key, headers=h5,
                                  data=b'{"name":"reader","scopes":["messages:read"]}')
    s4, b4, h4 = await system.call("POST", "/v1/api-keys", key=key, headers=h5,
                                   data=b'{ "scopes": [ "messages:read" ],\n  "name": "reader" }')
    assert s5 == s4 == 201 and h4.get("Idempotent-Replayed") == "true", b4
    assert b4["data"]["id"] == b5["data"]["id"], (b4, b5)
    s3, b3, _ = await system.call("POST", "/v1/api-keys", key=key, json={"name": "other"}, headers=h)
    assert s3 == 422 and b3["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    _, listing, _ = await system.call("GET", "/v1/api-keys", key=key)
    assert sum(1 for k in listing["data"] if k["name"] == "ci") == 1


async def test_pagination_is_stable_while_rows_arrive(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    for i in range(4):
        await system.call("POST", "/v1/api-keys", key=key, json={"name": f"k{i}"})
    seen: list[str] = []
    status, body, _ = await system.call("GET", "/v1/api-keys?limit=2", key=key)
    seen += [k["id"] for k in body["data"]]
    cursor = body["meta"]["next_cursor"]
    await system.call("POST", "/v1/api-keys", key=key, json={"name": "late"})  # newer: not in later pages
    while cursor:
        status, body, _ = await system.call("GET", f"/v1/api-keys?limit=2&cursor={cursor}", key=key)
        assert status == 200
        seen += [k["id"] for k in body["data"]]
        cursor = body["meta"]["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    status, body, _ = await system.call("GET", "/v1/api-keys?limit=0", key=key)
    assert status == 400 and body["error"]["details"]["field"] == "limit"


async def test_rate_limit_headers_and_429(settings_env: dict[str, str]) -> None:
    from tests.system import running_system

    async with running_system(settings_env, {"AM_RATE_LIMIT_RPS": "1", "AM_RATE_LIMIT_BURST": "3"},
                              only=["accounts", "gateway"]) as system:
        key = (await system.signup())["api_key"]["secret"]
        statuses = []
        for _ in range(5):
            status, _, headers = await system.call("GET", "/v1/balance", key=key)
            statuses.append(status)
            assert headers["X-RateLimit-Limit"] == "3"
        assert statuses[:3] == [200, 200, 200]
        assert 429 in statuses[3:]
        status, body, headers = await system.call("GET", "/v1/balance", key=key)
        if status == 429:
            assert int(headers["Retry-After"]) >= 1
            assert body["error"]["code"] == "RATE_LIMITED"


async def test_openapi_document_lists_every_route(system: System) -> None:
    status, doc, _ = await system.call("GET", "/v1/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    assert "/v1/signup" in doc["paths"] and "post" in doc["paths"]["/v1/signup"]
    from services.gateway.routes import all_routes

    for r in all_routes():
        assert r.method.lower() in doc["paths"][r.path]
    status, page, _ = await system.call("GET", "/docs")
    assert status == 200 and "AgentMessage API reference" in page


async def test_revocation_reaches_another_gateway_replica_within_a_second(system: System) -> None:
    """The event path: a second gateway, which did not handle the revoke, drops the key by event."""
    other, url = await system.another_gateway()
    try:
        owner = (await system.signup())["api_key"]["secret"]
        _, body, _ = await system.call("POST", "/v1/api-keys", key=owner, json={"name": "temp"})
        temp, temp_id = body["data"]["secret"], body["data"]["id"]
        assert system.http is not None
        replica = f"{url}/v1/balance"
        headers = {"Authorization": f"Bearer {temp}"}
        async with system.http.get(replica, headers=headers) as r:
            assert r.status == 200  # cached on the replica now
        assert (await system.call("DELETE", f"/v1/api-keys/{temp_id}", key=owner))[0] == 200

        async def refused_there() -> bool:
            async with system.http.get(replica, headers=headers) as r:
                return r.status == 401

        await system.eventually(refused_there, timeout=5)
    finally:
        await other.stop()


async def test_text_a_database_cannot_hold_is_a_400_not_a_500(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    for raw, field in ((b'{"name": "a\\u0000b"}', "name"), (b'{"name": "\\udb21x"}', "body")):
        status, body, _ = await system.call("POST", "/v1/api-keys", key=key, data=raw,
                                            headers={"Content-Type": "application/json"})
        assert status == 400, body
        assert body["error"]["details"]["field"] == field


async def test_credit_reserved_together_answers_retries_and_taken_ids_as_alone(system: System) -> None:
    """reserve_credits holds a batch in one statement; a retried id in a later batch makes that
    statement fail whole, and each item is then answered as reserve_credit would answer it."""
    from proto.commands.accounts import ReservationOutcomes, ReserveCredit, ReserveCredits

    rpc = system.services["gateway"].rpc
    mine, theirs = (await system.signup())["organization"]["id"], (await system.signup())["organization"]["id"]
    a, b, c = (str(uuid.uuid4()) for _ in range(3))

    def item(org: str, rid: str, amount: int) -> ReserveCredit:
        return ReserveCredit(org_id=org, reservation_id=rid, amount_micros=amount, reason="message", reference=rid)

    async def reserve(*items: ReserveCredit) -> list[tuple[str | None, int | None]]:
        out: ReservationOutcomes = await rpc.call(ReserveCredits(
            reservations=list(items)))
        return [(o.error.code if o.error else None, o.reservation.amount_micros if o.reservation else None)
                for o in out.results]

    assert await reserve(item(mine, a, 100_000), item(mine, b, 200_000)) == [(None, 100_000), (None, 200_000)]
    # a retry of a (even with another amount) answers the reservation made; c is held; b's id is not theirs
    assert await reserve(item(mine, a, 999), item(mine, c, 300_000), item(theirs, b, 1)) == [
        (None, 100_000), (None, 300_000), ("RESERVATION_ID_TAKEN", None)]
    balances = await system.services["accounts"].pool.fetch(
        "SELECT org_id::text AS org_id, available_micros FROM balances WHERE org_id = ANY($1::uuid[])", [mine, theirs])
    assert {r["org_id"]: r["available_micros"] for r in balances} == {mine: 5_000_000 - 600_000, theirs: 5_000_000}
