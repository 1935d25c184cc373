"""The edge under faults and hostile input, through the public API on real NATS and PostgreSQL:

- a send whose outcome the client never learnt (a timeout at the gateway while outbound went on) and that
  is retried with the same Idempotency-Key converges on the one message, which reaches the handset once;
- a key whose request died in flight (a crashed gateway) is held only for its lease, with Retry-After;
- faults answer 503 with Retry-After (a service gone), never 500;
- input that used to reach a 5xx answers 400: a Content-Encoding the body does not have, invalid UTF-8,
  a non-ASCII bearer token, a well-formed cursor whose id is no id, a NUL in a repeated parameter;
- unknown body fields are refused by name; 405 carries Allow;
- a replayed key creation or signup never shows the secret again;
- every answer, an error too, carries its request id (the caller's trace id when it sent a traceparent);
- a list's unknown query parameter (a typo'd filter) is refused by name, not ignored."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import re
import uuid
from typing import Any

import msgspec

from tests.e2e.test_outbound import Org, handset, onboard
from tests.system import System


async def follow_contract(org: Org, method: str, path: str, body: Any, key: str,
                          attempts: int = 30) -> tuple[int, Any]:
    """A client as the README asks: on 503 (or 409 in flight) wait Retry-After, retry with the same key."""
    for _ in range(attempts):
        status, got, headers = await org.call(method, path, json=body, headers={"Idempotency-Key": key})
        if status not in (503, 409) or (status == 409 and got["error"]["code"] != "IDEMPOTENCY_IN_FLIGHT"):
            return status, got
        assert "Retry-After" in headers, (status, got, headers)
        await asyncio.sleep(min(float(headers["Retry-After"]), 1.0))
    raise AssertionError(f"still {status} after {attempts} attempts: {got}")


async def test_send_timed_out_at_the_gateway_and_retried_reaches_the_handset_once(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    impatient, url = await system.another_gateway()
    try:
        body = {"from": org.number, "to": contact, "text": "exactly once, whatever happened"}
        key = f"send-{uuid.uuid4().hex}"
        assert system.http is not None
        async with system.http.get(f"{url}/v1/balance", headers={"Authorization": f"Bearer {org.key}"}) as r:
            assert r.status == 200  # the replica knows the key now
        impatient.rpc.default_timeout = 0.001  # and from now on it gives up on every answer at once
        # given a send whose answer the gateway gave up on (outbound still accepts it)
        async with system.http.post(f"{url}/v1/messages", json=body, headers={
                "Authorization": f"Bearer {org.key}", "Idempotency-Key": key}) as r:
            first = await r.json()
            assert r.status == 503 and first["error"]["code"] == "SERVICE_TIMEOUT", first
            assert int(r.headers["Retry-After"]) >= 1
        # which outbound accepted all the same

        async def accepted() -> Any:
            _, page, _ = await org.call("GET", "/v1/messages")
            return page["data"]

        assert len(await system.eventually(accepted)) == 1
        # when the client retries with the same key, as the README says (here through the other replica)
        status, got = await follow_contract(org, "POST", "/v1/messages", body, key)
        assert status == 202, got
        again_status, again, headers = await org.call("POST", "/v1/messages", json=body,
                                                      headers={"Idempotency-Key": key})
        assert again_status == 202 and again["data"]["id"] == got["data"]["id"]
        assert headers.get("Idempotent-Replayed") == "true"
    finally:
        await impatient.stop()
    # then there is one message, and the handset gets it once
    _, listing, _ = await org.call("GET", "/v1/messages")
    assert [m["id"] for m in listing["data"]] == [got["data"]["id"]], listing
    final = await org.until_terminal([got["data"]["id"]])
    assert final[got["data"]["id"]]["status"] == "delivered"
    assert await org.inbox(contact) == [body["text"]]


async def test_double_opt_in_timed_out_and_retried_texts_the_contact_once(system: System) -> None:
    org = await onboard(system)
    contact = handset()
    impatient, url = await system.another_gateway()
    body = {"phone_number_id": org.number_id, "contact_number": contact,
            "confirmation_text": "Reply YES to confirm, STOP to opt out."}
    key = f"doi-{uuid.uuid4().hex}"
    assert system.http is not None
    try:
        async with system.http.get(f"{url}/v1/balance", headers={"Authorization": f"Bearer {org.key}"}) as r:
            assert r.status == 200
        impatient.rpc.default_timeout = 0.001
        async with system.http.post(f"{url}/v1/consent/double-opt-in", json=body, headers={
                "Authorization": f"Bearer {org.key}", "Idempotency-Key": key}) as r:
            assert r.status == 503, await r.text()
    finally:
        await impatient.stop()

    async def texted() -> bool:
        return bool(await org.inbox(contact))

    await system.eventually(texted)  # the first attempt went ahead all the same
    status, got = await follow_contract(org, "POST", "/v1/consent/double-opt-in", body, key)
    assert status == 202, got  # not 429 DOUBLE_OPT_IN_RATE_LIMITED: the retry finds its own request
    _, consent, _ = await org.call("GET", f"/v1/consent/{contact}")
    assert consent["data"]["pending_double_opt_in"]["id"] == got["data"]["id"]
    _, listing, _ = await org.call("GET", "/v1/messages")
    assert [m["id"] for m in listing["data"]] == [got["data"]["message_id"]]
    await org.until_terminal([got["data"]["message_id"]])
    assert await org.inbox(contact) == [body["confirmation_text"]]


async def test_a_key_left_in_flight_by_a_crash_is_held_only_for_its_lease(system: System) -> None:
    from services.gateway.edge import Idempotency, Stored

    org = await onboard(system)
    gw = system.services["gateway"]
    kv = (await Idempotency.open(gw.nc, gw.subjects, 3600, 30)).kv
    body = {"name": "after a crash"}
    key = f"crash-{uuid.uuid4().hex}"
    slot = Idempotency.slot(org.org_id, "POST", "/v1/api-keys", key)
    raw = json.dumps(body).encode()
    import time

    digest = Idempotency.fingerprint(raw, slot, anonymous=False)
    # given a request that took the key and died (its gateway crashed): the lease still runs
    await kv.put(slot, msgspec.json.encode(Stored("in_flight", digest, lease_until=time.time() + 30)))
    status, got, headers = await org.call("POST", "/v1/api-keys", data=raw,
                                          headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert status == 409 and got["error"]["code"] == "IDEMPOTENCY_IN_FLIGHT", got
    assert 1 <= int(headers["Retry-After"]) <= 30
    # when the lease has run out, a retry goes ahead, and creates the key once
    await kv.put(slot, msgspec.json.encode(Stored("in_flight", digest, lease_until=time.time() - 1)))
    status, got, _ = await org.call("POST", "/v1/api-keys", data=raw,
                                    headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert status == 201 and got["data"]["secret"], got
    # a replay shows the key, never its secret again
    status, again, headers = await org.call("POST", "/v1/api-keys", data=raw,
                                            headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert status == 201 and headers.get("Idempotent-Replayed") == "true"
    assert again["data"]["id"] == got["data"]["id"] and again["data"]["secret"] is None, again
    # and when the answer was lost (the slot freed, the key made): a retry names the same key, no secret
    await kv.delete(slot)
    status, third, _ = await org.call("POST", "/v1/api-keys", data=raw,
                                      headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert status == 201 and third["data"]["id"] == got["data"]["id"] and third["data"]["secret"] is None
    _, keys, _ = await org.call("GET", "/v1/api-keys?limit=100")
    assert [k["name"] for k in keys["data"]].count("after a crash") == 1


async def test_signup_replayed_never_shows_the_secret_again(system: System) -> None:
    body = {"email": f"replay-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery",
            "organization_name": "Replay"}
    key = f"signup-{uuid.uuid4().hex}"
    status, first, _ = await system.call("POST", "/v1/signup", json=body, headers={"Idempotency-Key": key})
    assert status == 201 and first["data"]["api_key"]["secret"], first
    status, again, headers = await system.call("POST", "/v1/signup", json=body, headers={"Idempotency-Key": key})
    assert status == 201 and headers.get("Idempotent-Replayed") == "true"
    assert again["data"]["organization"]["id"] == first["data"]["organization"]["id"]
    assert again["data"]["api_key"]["secret"] is None and first["data"]["api_key"]["secret"] not in json.dumps(again)


async def test_a_service_gone_answers_503_with_retry_after_and_a_retry_converges(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    outbound = system.services["outbound"]
    await outbound.stop()  # no responders on outbound's subjects
    body = {"from": org.number, "to": contact, "text": "after the outage"}
    key = f"outage-{uuid.uuid4().hex}"
    status, got, headers = await org.call("POST", "/v1/messages", json=body, headers={"Idempotency-Key": key})
    assert status == 503 and got["error"]["code"] == "SERVICE_UNAVAILABLE" and "Retry-After" in headers, got
    status, got, headers = await org.call("GET", "/v1/messages")
    assert status == 503 and "Retry-After" in headers, got  # a read retried inside its budget, then 503
    patient, url = await system.another_gateway(read_retry_budget_s="60")
    assert system.http is not None
    try:
        async def read() -> int:
            assert system.http is not None
            async with system.http.get(f"{url}/v1/messages", headers={"Authorization": f"Bearer {org.key}"}) as r:
                return r.status

        before = _requests_made(patient)
        waiting = asyncio.create_task(read())  # a read that meets the outage and is retried inside the gateway

        async def retried() -> bool:
            return _requests_made(patient) >= before + 3  # the key's check, the read, and its retry

        await system.eventually(retried)
        assert not waiting.done()
        mod = importlib.import_module("services.outbound.app")
        env = dict(system.env)
        env["AM_HTTP_PORT"] = str(outbound.port)  # receipts keep coming to the same address
        fresh, setup = mod.build(env)
        await fresh.start(setup)
        system.services["outbound"] = fresh
        assert await waiting == 200  # the client never saw the outage
    finally:
        await patient.stop()
    status, sent = await follow_contract(org, "POST", "/v1/messages", body, key)
    assert status == 202, sent
    final = await org.until_terminal([sent["data"]["id"]])
    assert final[sent["data"]["id"]]["status"] == "delivered"
    assert await org.inbox(contact) == [body["text"]]


def _requests_made(gateway: Any) -> int:
    """How many requests a replica's RPC client has sent (its token counter, read without taking one)."""
    return int(repr(gateway.rpc._tokens)[len("count("):-1])


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


async def test_hostile_input_answers_4xx_never_5xx(system: System) -> None:
    org = await onboard(system)
    assert system.http is not None
    gw = system.gateway
    auth = {"Authorization": f"Bearer {org.key}"}

    async def raw(method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
                  ) -> tuple[int, Any, Any]:
        assert system.http is not None
        async with system.http.request(method, gw + path, data=data, headers={**auth, **(headers or {})},
                                       skip_auto_headers=["Content-Type"]) as r:
            return r.status, await r.json(content_type=None), r.headers

    send = json.dumps({"from": org.number, "to": handset(), "text": "hi"}).encode()
    status, body, _ = await raw("POST", "/v1/messages", send,
                                {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert status == 415 and body["error"]["details"]["field"] == "Content-Encoding", body
    status, body, _ = await raw("POST", "/v1/messages", b'{"from": "' + org.number.encode() + b'", "to": "+15551234567",'
                                b' "text": "bad \xff\xfe utf-8"}', {"Content-Type": "application/json"})
    assert status == 400 and body["error"]["details"]["field"] == "body", body
    async with system.http.get(gw + "/v1/balance", headers={"Authorization": "Bearer am_live_\u00e9" + "x" * 40}) as r:
        assert r.status == 401, await r.text()
    # a cursor that decodes, naming no row: every listing
    for path in ("/v1/api-keys", "/v1/balance", "/v1/phone-numbers", "/v1/brands", "/v1/campaigns", "/v1/messages",
                 "/v1/consent", "/v1/inbound-messages", "/v1/compliance/decisions"):
        for cursor in (_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"), _cursor("2026-01-01T00:00:00+00:00", 7),
                       _cursor("a", 2**70), _cursor("2026-01-01T00:00:00+00:00", "a\u0000b"), "%%%"):
            status, body, _ = await org.call("GET", path, params={"cursor": cursor})
            if path == "/v1/consent" and status == 200:  # its cursors name a contact: any text is one
                continue
            assert status == 400 and body["error"]["details"]["field"] == "cursor", (path, cursor, status, body)
    status, body, _ = await raw("GET", "/v1/consent?method=a&method=%00")
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
    status, body, _ = await raw("GET", "/v1/messages?status=queued&status=%00&to=%2B15551234567")
    assert status == 400, body
    # the families: odd bytes and numbers in paths and queries
    for path in ("/v1/messages?status=%FF", "/v1/consent/%FF%FE", "/v1/messages/%00", "/v1/consent/%2B1%00",
                 "/v1/messages?limit=99999999999999999999999", "/v1/messages?limit=-1", "/v1/inbound-messages?wait=1e309",
                 "/v1/inbound-messages?after=%00", "/v1/inbound-messages?since=2026-13-45T99:99:99Z",
                 "/v1/messages?created_after=9999-12-31T23:59:59%2B14:00", "/v1/messages?from=%2B1&from=%2B%00",
                 "/v1/consent?status=granted&status=%00", "/v1/brands/%F0%9F%92%A9", "/v1/api-keys?cursor=%00"):
        status, body, _ = await raw("GET", path)
        assert status < 500, (path, status, body)
    # unknown fields are refused by name, nested ones by path
    for extra in ({"sendAt": "2030-01-01T00:00:00Z"}, {"media_urls": ["https://example.com/a.png"]}):
        status, body = await org.send(handset(), **extra)
        assert status == 400 and body["error"]["details"]["field"] == next(iter(extra)), body
    status, body, _ = await org.call("POST", "/v1/consent", json={
        "contact_number": handset(), "method": "paper", "evidence": {"disclosure_text": "ok", "captuerd_at": "x"}})
    assert status == 400 and body["error"]["details"]["field"] == "evidence.captuerd_at", body
    status, body, _ = await org.call("PATCH", "/v1/compliance/settings", json={"quiet_hours": False})
    assert status == 400 and body["error"]["details"]["field"] == "quiet_hours", body
    # 405 says what is allowed
    status, body, headers = await raw("PUT", "/v1/consent/double-opt-in", b"{}", {"Content-Type": "application/json"})
    assert status == 405 and headers["Allow"] == "POST", (body, dict(headers))
    status, body, headers = await raw("DELETE", "/v1/consent/export")  # not a contact_number
    assert status == 405 and headers["Allow"] == "GET, HEAD", (body, dict(headers))
    status, body, headers = await raw("POST", "/v1/messages/" + str(uuid.uuid4()), b"{}",
                                      {"Content-Type": "application/json"})
    assert status == 405 and headers["Allow"] == "GET, HEAD", (body, dict(headers))


async def test_a_rotation_whose_answer_was_lost_rotates_once(system: System) -> None:
    from services.gateway.edge import Idempotency

    org = await onboard(system)
    path = f"/v1/phone-numbers/{org.number_id}/webhook-secret/rotate"
    status, first, _ = await org.call("POST", path)  # the number's first secret
    assert status == 200, first
    key = f"rotate-{uuid.uuid4().hex}"
    status, rotated, _ = await org.call("POST", path, headers={"Idempotency-Key": key})
    assert status == 200 and rotated["data"]["webhook_secret"] != first["data"]["webhook_secret"]
    # the answer is lost (the slot freed, as after a fault): the retry must not rotate again, or the
    # secret receivers still verify with would stop signing a day early
    gw = system.services["gateway"]
    kv = (await Idempotency.open(gw.nc, gw.subjects, 3600, 30)).kv
    await kv.delete(Idempotency.slot(org.org_id, "POST", path, key))
    status, again, _ = await org.call("POST", path, headers={"Idempotency-Key": key})
    assert status == 200 and again["data"]["webhook_secret"] == rotated["data"]["webhook_secret"], again
    _, number, _ = await org.call("GET", f"/v1/phone-numbers/{org.number_id}")
    assert number["data"]["webhook_secret"] == rotated["data"]["webhook_secret"]


async def test_an_order_whose_answer_was_lost_is_placed_once(system: System) -> None:
    from services.gateway.edge import Idempotency

    org = await onboard(system)
    _, found, _ = await org.call("POST", "/v1/phone-numbers/search", json={"area_code": "415", "quantity": 5})
    number = found["data"][-1]["phone_number"]
    before = await org.balance()
    key = f"order-{uuid.uuid4().hex}"
    body = {"numbers": [number]}
    status, first, _ = await org.call("POST", "/v1/phone-numbers/orders", json=body, headers={"Idempotency-Key": key})
    assert status == 201, first
    gw = system.services["gateway"]
    kv = (await Idempotency.open(gw.nc, gw.subjects, 3600, 30)).kv
    await kv.delete(Idempotency.slot(org.org_id, "POST", "/v1/phone-numbers/orders", key))  # the answer was lost
    status, again, _ = await org.call("POST", "/v1/phone-numbers/orders", json=body, headers={"Idempotency-Key": key})
    assert status == 201 and again["data"]["id"] == first["data"]["id"], again  # not 409 NUMBER_UNAVAILABLE
    assert [n["id"] for n in again["data"]["phone_numbers"]] == [n["id"] for n in first["data"]["phone_numbers"]]
    _, listing, _ = await org.call("GET", "/v1/balance")
    debits = [e for e in listing["data"]["entries"] if e["reference"] == first["data"]["id"]]
    assert len(debits) == 1 and before != await org.balance(), listing


async def test_an_exhausted_pool_answers_503_and_the_retry_converges(system: System) -> None:
    org = await onboard(system)
    contact = await org.new_contact()
    impatient, url = await system.another_gateway()
    pool = system.services["outbound"].pool
    assert system.http is not None
    # one waiter for each of the pool's connections, queued before the send: every connection that is free
    # or that outbound's own loops give back goes to them first (the pool serves its waiters in order)
    grabbers = [asyncio.ensure_future(pool.acquire()) for _ in range(pool.get_max_size())]
    try:
        async with system.http.get(f"{url}/v1/balance", headers={"Authorization": f"Bearer {org.key}"}) as r:
            assert r.status == 200
        impatient.rpc.default_timeout = 1.0
        # given every connection of outbound's pool taken (a burst, a slow database)
        await system.eventually(lambda: asyncio.sleep(0, any(g.done() for g in grabbers)), timeout=30)
        body = {"from": org.number, "to": contact, "text": "through an exhausted pool"}
        key = f"pool-{uuid.uuid4().hex}"
        async with system.http.post(f"{url}/v1/messages", json=body, headers={
                "Authorization": f"Bearer {org.key}", "Idempotency-Key": key}) as r:
            got = await r.json()
            assert r.status == 503 and r.headers["Retry-After"], got  # a fault, said so, never 500
    finally:
        for g in grabbers:
            g.cancel()
        for g in grabbers:
            with contextlib.suppress(asyncio.CancelledError):
                await pool.release(await g)
        await impatient.stop()
    # when the pool has connections again, the client's retry (same key) gets the one message
    status, sent = await follow_contract(org, "POST", "/v1/messages", body, key)
    assert status == 202, sent
    await org.until_terminal([sent["data"]["id"]])
    _, listing, _ = await org.call("GET", "/v1/messages")
    assert [m["id"] for m in listing["data"]] == [sent["data"]["id"]]
    assert await org.inbox(contact) == [body["text"]]


async def test_mcp_and_the_dashboard_answer_503_when_the_gateway_has_lost_the_bus(system: System) -> None:
    """/mcp and the dashboard's pages sit outside the API's pipeline: a key or a session they must look up
    while the gateway's NATS connection is gone is a 503 with Retry-After, never a 500."""
    cut_off, url = await system.another_gateway()
    assert system.http is not None
    try:
        await cut_off.nc.close()
        async with system.http.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                    headers={"Authorization": f"Bearer am_live_{uuid.uuid4().hex}"}) as r:
            assert r.status == 503, await r.text()
            assert (await r.json())["error"]["code"] == "SERVICE_UNAVAILABLE" and r.headers["Retry-After"]
        async with system.http.get(f"{url}/", cookies={"am_session": uuid.uuid4().hex},
                                   allow_redirects=False) as r:
            assert r.status == 503, await r.text()
            assert r.headers["Retry-After"]
    finally:
        with contextlib.suppress(Exception):
            await cut_off.stop()


async def test_every_answer_carries_its_request_id(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    answers = [await system.call("GET", "/v1/balance", key=key),
               await system.call("GET", f"/v1/messages/{uuid.uuid4()}", key=key),
               await system.call("GET", "/v1/balance"),
               await system.call("POST", "/v1/messages", key=key, json={"to": "nope"})]
    assert [status for status, _, _ in answers] == [200, 404, 401, 400]
    ids = [headers.get("X-Request-ID", "") for _, _, headers in answers]
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)  # one per request
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"  # a caller's own trace: the request joins it
    _, _, headers = await system.call("GET", "/v1/balance", key=key,
                                      headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert headers["X-Request-ID"] == trace


async def test_head_answers_as_get_without_the_body(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    assert system.http is not None
    for path, auth, want in (("/v1/balance", True, 200), ("/v1/balance", False, 401),
                             (f"/v1/messages/{uuid.uuid4()}", True, 404)):
        headers = {"Authorization": f"Bearer {key}"} if auth else {}
        async with system.http.get(system.gateway + path, headers=headers) as g:
            got = await g.read()
        async with system.http.head(system.gateway + path, headers=headers) as h:
            # the GET's status and headers (its length, its type, a request id of its own), and no body
            assert (h.status, await h.read()) == (want, b""), path
            assert h.status == g.status and h.headers["Content-Type"] == g.headers["Content-Type"]
            assert h.headers["Content-Length"] == str(len(got)) and re.fullmatch("[0-9a-f]{32}", h.headers["X-Request-ID"])


async def test_a_lists_unknown_parameter_is_refused_not_ignored(system: System) -> None:
    key = (await system.signup())["api_key"]["secret"]
    status, body, _ = await system.call("GET", "/v1/messages?since=2026-01-01T00:00:00Z", key=key)
    assert status == 400 and body["error"]["details"] == {"field": "since"}, body
    assert "created_after" in body["error"]["message"]  # it says what the list does take
    status, body, _ = await system.call("GET", "/v1/messages?created_after=2026-01-01T00:00:00Z&limit=5", key=key)
    assert status == 200, body
