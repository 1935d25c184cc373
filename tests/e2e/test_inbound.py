"""Inbound end to end: the simulator texts a number, the message is stored once, listed, waited for, and
pushed to a signed webhook with retries — through the public gateway, against real NATS and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import importlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from libs.testing import SLACK
from libs.webhooks.signing import HEADER, verify
from services.inbound.app import build as build_inbound
from tests.system import System, running_system

HANDSET = "+15551234567"
SIM_SECRET = "sim-dev-callback-secret"
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SHORT_RETRIES = {
    "AM_INBOUND_WEBHOOK_RETRY_BASE_S": "0.05",
    "AM_INBOUND_WEBHOOK_RETRY_CAP_S": "0.2",
    "AM_INBOUND_WEBHOOK_RETRY_WINDOW_S": "1.5",
    "AM_INBOUND_WEBHOOK_POLL_INTERVAL_S": "0.1",
    "AM_INBOUND_WEBHOOK_TIMEOUT_S": "2",
}


# -- helpers --------------------------------------------------------------------------------------------
async def provision(system: System, key: str, inbound_url: str | None = None) -> dict[str, Any]:
    """Search, order and (optionally) point a number at a webhook, the public way."""
    status, body, _ = await system.call("POST", "/v1/phone-numbers/search", key=key,
                                        json={"area_code": "415", "quantity": 1})
    assert status == 200, body
    e164 = body["data"][0]["phone_number"]
    status, body, _ = await system.call("POST", "/v1/phone-numbers/orders", key=key, json={"numbers": [e164]})
    assert status == 201, body
    number = body["data"]["phone_numbers"][0]
    out = {"id": number["id"], "e164": number["phone_number"], "secret": None}
    if inbound_url:
        status, body, _ = await system.call("PATCH", f"/v1/phone-numbers/{number['id']}", key=key,
                                            json={"inbound_url": inbound_url})
        assert status == 200, body
        out["secret"] = body["data"]["webhook_secret"]
    return out


async def new_org(system: System, inbound_url: str | None = None) -> tuple[str, dict[str, Any]]:
    key = (await system.signup())["api_key"]["secret"]
    return key, await provision(system, key, inbound_url)


def mo_url(system: System) -> str:
    """The HTTP carrier API's MO callback lands at the carrier service, which records the text and
    publishes it (InboundTextReceived) for inbound to store and push."""
    return f"http://127.0.0.1:{system.services['carrier'].port}/carrier/mo"


def signed_mo(to: str, text: str, carrier_id: str | None = None, secret: str = SIM_SECRET,
              from_: str = HANDSET) -> tuple[bytes, dict[str, str]]:
    """An MO callback exactly as the simulator signs it: HMAC-SHA256 of "<t>.<body>"."""
    body = msgspec.json.encode({"carrier_message_id": carrier_id or f"sim-{uuid.uuid4()}", "from": from_,
                                "to": to, "text": text, "received_at": "2026-06-11T12:01:00.123Z"})
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Sim-Signature": f"t={t},v1={mac}"}


async def post_mo(system: System, body: bytes, headers: dict[str, str], stored: bool = True) -> tuple[int, Any]:
    """POST an MO callback; once the carrier service took it, wait until inbound has stored it."""
    assert system.http is not None
    async with system.http.post(mo_url(system), data=body, headers=headers) as r:
        status, res = r.status, await r.json(content_type=None)
    if status == 200 and stored and "inbound" in system.services:
        cid = msgspec.json.decode(body)["carrier_message_id"]
        pool = system.services["inbound"].pool

        async def kept() -> bool:
            return bool(await pool.fetchval("SELECT 1 FROM inbound_messages WHERE carrier_message_id = $1", cid))

        await system.eventually(kept)
    return status, res


async def text(system: System, to: str, body: str, from_: str = HANDSET) -> None:
    status, res, _ = await system.call("POST", "/sim/messages", json={"from": from_, "to": to, "text": body})
    assert status == 202, res


async def inbox(system: System, key: str, **params: Any) -> list[dict[str, Any]]:
    status, body, _ = await system.call("GET", "/v1/inbound-messages", key=key, params=params)
    assert status == 200, body
    return list(body["data"])


class Receiver:
    """A customer's webhook endpoint: records every request; answers 500 while ``fail`` says so."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0):
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.always_fail = False
        self.held = asyncio.Event()
        """While ``hold`` is set, requests wait for this before answering."""
        self.hold = False
        self.arrived = 0
        """Requests received so far, counted before any delay."""
        self.active = self.max_active = 0
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.arrived += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.hold:
                await self.held.wait()
        finally:
            self.active -= 1
        status = 500 if self.always_fail or len(self.calls) < self.fail_first else 200
        self.calls.append((dict(request.headers), raw, status))
        return web.Response(status=status, text="ok" if status == 200 else "boom")

    def delivered(self) -> dict[str, dict[str, Any]]:
        """Message id → payload, for the requests that were answered 2xx."""
        return {p["id"]: p for p in (msgspec.json.decode(raw) for _, raw, s in self.calls if s == 200)}


# -- ingest and pull ------------------------------------------------------------------------------------
async def test_texted_number_is_listed_with_the_quickstart_shape(system: System) -> None:
    key, number = await new_org(system)
    await text(system, number["e164"], "hello agentmessage")

    async def listed() -> Any:
        status, body, _ = await system.call("GET", "/v1/inbound-messages?limit=5", key=key)
        assert status == 200, body
        return body if body["data"] else None

    body = await system.eventually(listed, timeout=30)
    assert set(body) == {"success", "data", "meta"}
    assert body["success"] is True and body["meta"] == {"next_cursor": None}
    [item] = body["data"]
    assert set(item) == {"id", "from", "to", "body", "channel", "received_at"}
    assert uuid.UUID(item["id"])
    assert (item["from"], item["to"], item["body"], item["channel"]) == (
        HANDSET, number["e164"], "hello agentmessage", "sms")
    assert RFC3339_MS.match(item["received_at"]), item["received_at"]
    status, one, _ = await system.call("GET", f"/v1/inbound-messages/{item['id']}", key=key)
    assert status == 200 and one["data"] == item
    status, d, _ = await system.call("GET", f"/v1/inbound-messages/{item['id']}/deliveries", key=key)
    assert status == 200 and d["data"]["state"] == "none" and d["data"]["attempts"] == []


async def test_the_same_words_texted_again_are_a_new_message(settings_env: dict[str, str]) -> None:
    """Over SMPP a deliver_sm identical to a recent one may be the SMSC resending it; one we answered in time
    on a session still open is not: the contact texting "ok" twice has both stored. ("In time" is generous
    here, so that a loaded machine's slow first answer still counts as prompt.)"""
    async with running_system(settings_env, {"AM_MO_ANSWERED_IN_TIME_S": "60"}) as system:
        key, number = await new_org(system)
        for n in (1, 2):
            await text(system, number["e164"], "ok")

            async def stored(n: int = n) -> bool:
                return [m["body"] for m in await inbox(system, key)] == ["ok"] * n

            await system.eventually(stored, timeout=30)


async def test_a_contacts_texts_in_quick_succession_are_stored_in_the_order_they_were_sent(system: System) -> None:
    """Twenty texts as fast as the simulator takes them: the SMSC has several deliver_sm out at once and the
    carrier commits them by the batch; the conversation is listed in the order it was sent."""
    key, number = await new_org(system)
    sent = [f"text {i:02d}" for i in range(20)]
    for body in sent:
        await text(system, number["e164"], body)

    async def all_stored() -> list[dict[str, Any]] | None:
        got = await inbox(system, key, limit=50)
        return got if len(got) == len(sent) else None

    got = await system.eventually(all_stored, timeout=30)
    assert [m["body"] for m in reversed(got)] == sent  # (listed newest first)


async def test_retried_carrier_callback_is_stored_once_and_bad_signatures_are_refused(system: System) -> None:
    key, number = await new_org(system)
    body, headers = signed_mo(number["e164"], "only once")
    assert await post_mo(system, body, headers) == (200, {"status": "recorded"})
    assert await post_mo(system, body, headers) == (200, {"status": "duplicate"})
    again, headers2 = signed_mo(number["e164"], "only once", carrier_id=msgspec.json.decode(body)["carrier_message_id"])
    results = await asyncio.gather(*(post_mo(system, again, headers2) for _ in range(5)))
    assert all(r == (200, {"status": "duplicate"}) for r in results)
    assert [m["body"] for m in await inbox(system, key)] == ["only once"]

    forged, fh = signed_mo(number["e164"], "forged", secret="not-the-carrier")
    assert (await post_mo(system, forged, fh))[0] == 401
    assert (await post_mo(system, forged, {"Content-Type": "application/json"}))[0] == 401
    junk, jh = signed_mo(number["e164"], "x")
    junk = b'{"from": 1}'
    t = int(time.time())
    jh["X-Sim-Signature"] = f"t={t},v1=" + hmac.new(SIM_SECRET.encode(), f"{t}.".encode() + junk,
                                                    hashlib.sha256).hexdigest()
    assert (await post_mo(system, junk, jh))[0] == 400
    assert [m["body"] for m in await inbox(system, key)] == ["only once"]


async def test_message_to_a_number_nobody_owns_is_recorded_for_ops_and_acknowledged(system: System) -> None:
    body, headers = signed_mo("+14155550100", "who is this")
    assert await post_mo(system, body, headers) == (200, {"status": "recorded"})
    assert await post_mo(system, body, headers) == (200, {"status": "duplicate"})
    pool = system.services["inbound"].pool
    cid = msgspec.json.decode(body)["carrier_message_id"]
    row = await pool.fetchrow("SELECT org_id, body FROM inbound_messages WHERE carrier_message_id = $1", cid)
    assert row is not None and (row["org_id"], row["body"]) == ("unrouted", "who is this")
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'UnroutedMessageReceived'"
                               " AND data->>'carrier_message_id' = $1", cid) == 1
    key, _ = await new_org(system)
    assert await inbox(system, key) == []


async def test_numbers_unavailable_holds_the_text_until_numbers_answers(settings_env: dict[str, str]) -> None:
    async with running_system(settings_env, only=["carrier", "inbound"]) as system:
        body, headers = signed_mo("+14155550123", "later please")
        status, res = await post_mo(system, body, headers, stored=False)
        assert (status, res) == (200, {"status": "recorded"})  # the carrier service has it: nothing is lost
        pool = system.services["inbound"].pool
        assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0
        numbers_app = importlib.import_module("services.numbers.app")
        svc, setup = numbers_app.build({**system.env, "AM_HTTP_PORT": "0"})
        await svc.start(setup)
        system.services["numbers"] = svc

        async def stored() -> Any:
            return await pool.fetchval("SELECT org_id FROM inbound_messages")

        assert await system.eventually(stored, timeout=30) == "unrouted"  # retried until numbers answered


async def test_list_filters_order_and_cursor_pages_stable_while_messages_arrive(system: System) -> None:
    key, a = await new_org(system)
    b = await provision(system, key)
    for i in range(5):
        body, headers = signed_mo(a["e164"] if i % 2 == 0 else b["e164"], f"m{i}",
                                  from_=HANDSET if i < 3 else "+15557654321")
        assert (await post_mo(system, body, headers))[0] == 200
    assert [m["body"] for m in await inbox(system, key)] == ["m4", "m3", "m2", "m1", "m0"]  # newest first
    assert [m["body"] for m in await inbox(system, key, to=a["e164"])] == ["m4", "m2", "m0"]
    assert [m["body"] for m in await inbox(system, key, **{"from": "+1 (555) 765-4321"})] == ["m4", "m3"]
    assert [m["body"] for m in await inbox(system, key, to=b["e164"], **{"from": HANDSET})] == ["m1"]
    assert len(await inbox(system, key, since="2020-01-01T00:00:00Z")) == 5  # the carrier's received_at
    assert await inbox(system, key, since="2099-01-01T00:00:00.000Z") == []

    status, page, _ = await system.call("GET", "/v1/inbound-messages", key=key, params={"limit": 2})
    seen = [m["body"] for m in page["data"]]
    cursor = page["meta"]["next_cursor"]
    body, headers = signed_mo(a["e164"], "late")  # newer: never in the later pages
    await post_mo(system, body, headers)
    while cursor:
        status, page, _ = await system.call("GET", "/v1/inbound-messages", key=key,
                                            params={"limit": 2, "cursor": cursor})
        assert status == 200
        seen += [m["body"] for m in page["data"]]
        cursor = page["meta"]["next_cursor"]
    assert seen == ["m4", "m3", "m2", "m1", "m0"]
    newer = await inbox(system, key, after=(await inbox(system, key, limit=6))[-1]["id"])
    assert [m["body"] for m in newer] == ["m1", "m2", "m3", "m4", "late"]  # after: oldest first

    for params, field in (({"to": "nope"}, "to"), ({"since": "yesterday"}, "since"), ({"cursor": "zz"}, "cursor"),
                          ({"wait": "61"}, "wait"), ({"after": str(uuid.uuid4())}, "after"), ({"from": "x!"}, "from")):
        status, err, _ = await system.call("GET", "/v1/inbound-messages", key=key, params=params)
        assert status == 400 and err["error"]["details"]["field"] == field, (params, err)


async def test_another_organizations_message_is_404(system: System) -> None:
    key_a, number = await new_org(system)
    body, headers = signed_mo(number["e164"], "private")
    await post_mo(system, body, headers)
    [msg] = await inbox(system, key_a)
    key_b = (await system.signup())["api_key"]["secret"]
    for method, path in (("GET", f"/v1/inbound-messages/{msg['id']}"),
                         ("GET", f"/v1/inbound-messages/{msg['id']}/deliveries"),
                         ("POST", f"/v1/inbound-messages/{msg['id']}/redeliver"),
                         ("GET", "/v1/inbound-messages/not-a-uuid")):
        status, err, _ = await system.call(method, path, key=key_b)
        assert status == 404 and err["error"]["code"] == "NOT_FOUND", (path, err)
    assert await inbox(system, key_b) == []
    status, err, _ = await system.call("GET", "/v1/inbound-messages", key=key_b, params={"after": msg["id"]})
    assert status == 400


async def test_burst_of_200_mo_messages_is_stored_once_each(system: System) -> None:
    key, number = await new_org(system)
    texts = [f"burst {i}" for i in range(200)]
    await asyncio.gather(*(text(system, number["e164"], t) for t in texts))

    async def all_listed() -> Any:
        got: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            _status, page, _ = await system.call("GET", "/v1/inbound-messages", key=key, params=params)
            got += page["data"]
            cursor = page["meta"]["next_cursor"]
            if not cursor:
                return got if len(got) >= 200 else None

    got = await system.eventually(all_listed, timeout=15, interval=0.2)
    assert sorted(m["body"] for m in got) == sorted(texts)
    assert len({m["id"] for m in got}) == 200


# -- wait -----------------------------------------------------------------------------------------------
async def test_long_poll_answers_on_arrival_and_empty_after_the_wait(system: System) -> None:
    # (the bounds tell "on arrival" from "at the end of the wait" with room for a busy machine: on a quiet
    # one an arrival is answered in tens of milliseconds)
    key, number = await new_org(system)
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(system.call("GET", "/v1/inbound-messages", key=key,
                                           params={"wait": 60, "from": HANDSET}))
    await asyncio.sleep(0.5)
    assert not poll.done()
    await text(system, number["e164"], "the answer is 42", from_="+15550001111")  # another sender: keep waiting
    await asyncio.sleep(0.3)
    assert not poll.done()
    sent = loop.time()
    await text(system, number["e164"], "yes")
    status, body, _ = await poll
    arrived = loop.time() - sent
    assert status == 200, body
    assert [m["body"] for m in body["data"]] == ["yes"]
    assert arrived < 20, arrived  # not at the end of the 60 s wait
    first = body["data"][0]["id"]

    started = loop.time()
    status, body, _ = await system.call("GET", "/v1/inbound-messages", key=key, params={"wait": 1, "after": first})
    assert status == 200 and body["data"] == [] and body["meta"] == {"next_cursor": None}
    assert 0.9 <= loop.time() - started < 20  # the whole wait, then the empty answer

    await text(system, number["e164"], "follow-up")
    await system.eventually(lambda: inbox(system, key, after=first))
    started = loop.time()
    status, body, _ = await system.call("GET", "/v1/inbound-messages", key=key, params={"wait": 60, "after": first})
    assert [m["body"] for m in body["data"]] == ["follow-up"]
    assert loop.time() - started < 20  # already there: answered at once, not after the 60 s wait


# -- push -----------------------------------------------------------------------------------------------
async def claimed(system: System) -> dict[str, float]:
    """Inbound's webhook deliveries claimed so far, by how (``offered``: handed over by ingest; ``scan``)."""
    assert system.http is not None
    async with system.http.get(f"http://127.0.0.1:{system.services['inbound'].port}/metrics") as r:
        text_ = await r.text()
    return {s.labels["how"]: s.value for family in text_string_to_metric_families(text_) for s in family.samples
            if s.name == "am_work_claimed_total" and s.labels["queue"] == "webhook-deliveries"}


async def test_webhook_is_signed_and_the_signature_verifies(system: System) -> None:
    async with Receiver() as receiver:
        key, number = await new_org(system, receiver.url)
        before = await claimed(system)
        await text(system, number["e164"], "hello agentmessage")
        await system.eventually(lambda: asyncio.sleep(0, receiver.calls), timeout=30)
        # ingest handed the delivery to the worker, which claimed it by id (no NOTIFY, no scan needed)
        assert (await claimed(system)).get("offered", 0) > before.get("offered", 0)
        [(headers, raw, _)] = receiver.calls
        assert headers["Content-Type"] == "application/json"
        assert verify(number["secret"], headers[HEADER], raw)
        assert not verify("someone-else", headers[HEADER], raw)
        payload = msgspec.json.decode(raw)
        [msg] = await inbox(system, key)
        assert payload == {**msg, "event_id": payload["event_id"], "type": "message.received",
                           "phone_number_id": number["id"]}
        assert uuid.UUID(payload["event_id"])

        async def succeeded() -> Any:
            _, d, _ = await system.call("GET", f"/v1/inbound-messages/{msg['id']}/deliveries", key=key)
            return d["data"] if d["data"]["state"] == "succeeded" else None

        d = await system.eventually(succeeded, timeout=30)
        assert d["event_id"] == payload["event_id"] and d["attempt_count"] == 1
        [attempt] = d["attempts"]
        assert attempt["succeeded"] is True and attempt["status_code"] == 200 and attempt["error"] is None
        assert attempt["latency_ms"] >= 0 and RFC3339_MS.match(attempt["attempted_at"])

        status, res, _ = await system.call("POST", f"/v1/inbound-messages/{msg['id']}/redeliver", key=key)
        assert status == 202, res
        await system.eventually(lambda: asyncio.sleep(0, len(receiver.calls) == 2), timeout=30)
        again = msgspec.json.decode(receiver.calls[1][1])
        assert again["event_id"] == payload["event_id"]  # stable: the receiver dedupes on it


async def test_receiver_failing_for_a_while_gets_every_message_and_a_dead_one_is_marked_failed(
        settings_env: dict[str, str]) -> None:
    async with running_system(settings_env, SHORT_RETRIES) as system, \
            Receiver(fail_first=6) as flaky, Receiver() as dead:
        dead.always_fail = True
        key, number = await new_org(system, flaky.url)
        texts = [f"retry me {i}" for i in range(4)]
        for t in texts:
            await text(system, number["e164"], t)
        await system.eventually(lambda: asyncio.sleep(0, len(flaky.delivered()) == 4), timeout=30)
        delivered = flaky.delivered()
        assert sorted(p["body"] for p in delivered.values()) == sorted(texts)
        by_message: dict[str, set[str]] = {}
        for _, raw, _ in flaky.calls:
            p = msgspec.json.decode(raw)
            by_message.setdefault(p["id"], set()).add(p["event_id"])
        assert all(len(ids) == 1 for ids in by_message.values())  # one event id per message, every try
        assert sum(1 for *_, s in flaky.calls if s == 500) == 6
        retried = [m for m in await inbox(system, key) if len([c for c in flaky.calls
                                                                if msgspec.json.decode(c[1])["id"] == m["id"]]) > 1]
        _, d, _ = await system.call("GET", f"/v1/inbound-messages/{retried[0]['id']}/deliveries", key=key)
        assert d["data"]["state"] == "succeeded"
        assert [a["status_code"] for a in d["data"]["attempts"]][-1] == 200
        assert {a["status_code"] for a in d["data"]["attempts"][:-1]} == {500}
        assert all(a["error"] == "HTTP 500" for a in d["data"]["attempts"][:-1])

        key2, number2 = await new_org(system, dead.url)
        await text(system, number2["e164"], "nobody home")
        [msg] = await system.eventually(lambda: inbox(system, key2))

        async def state() -> Any:
            _, d, _ = await system.call("GET", f"/v1/inbound-messages/{msg['id']}/deliveries", key=key2)
            return d["data"] if d["data"]["state"] == "failed" else None

        failed = await system.eventually(state, timeout=30)
        assert failed["attempt_count"] >= 3 and failed["last_error"] == "HTTP 500"
        dead.always_fail = False
        status, res, _ = await system.call("POST", f"/v1/inbound-messages/{msg['id']}/redeliver", key=key2)
        assert status == 202 and res["data"]["state"] == "pending"
        await system.eventually(lambda: asyncio.sleep(0, msg["id"] in dead.delivered()), timeout=30)


async def test_texts_waiting_for_their_numbers_lane_go_as_soon_as_it_frees(settings_env: dict[str, str]) -> None:
    """Two POSTs at a time per number, another number's POST in flight throughout, and no poll or timeout to
    fall back on: each finished delivery lets the next of the number's waiting texts go at once (the lane was
    full when they were left waiting, though it no longer is when the attempt ends)."""
    env = {"AM_INBOUND_WEBHOOK_PER_NUMBER_CONCURRENCY": "2", "AM_INBOUND_WEBHOOK_POLL_INTERVAL_S": "3600",
           "AM_INBOUND_WEBHOOK_TIMEOUT_S": "120"}
    async with running_system(settings_env, env) as system, Receiver(delay_s=0.2) as receiver, \
            Receiver() as busy:
        busy.hold = True  # another number's POST stays in flight throughout (so the worker is never idle)
        _, other = await new_org(system, busy.url)
        await text(system, other["e164"], "a slow receiver holds a slot meanwhile")
        await system.eventually(lambda: asyncio.sleep(0, busy.arrived == 1), timeout=30)
        _, number = await new_org(system, receiver.url)
        await asyncio.gather(*(text(system, number["e164"], f"in line {i}") for i in range(8)))
        try:
            await system.eventually(lambda: asyncio.sleep(0, len(receiver.delivered()) == 8), timeout=30)
        finally:
            busy.held.set()
        assert receiver.max_active == 2


async def test_a_slow_receiver_does_not_hold_up_other_numbers(settings_env: dict[str, str]) -> None:
    env = {**SHORT_RETRIES, "AM_INBOUND_WEBHOOK_CONCURRENCY": "8"}  # at most 2 slots per number
    async with running_system(settings_env, env) as system, \
            Receiver(delay_s=1.5) as slow, Receiver() as fast:
        _, slow_number = await new_org(system, slow.url)
        _key, fast_number = await new_org(system, fast.url)
        await asyncio.gather(*(text(system, slow_number["e164"], f"slow {i}") for i in range(12)))
        await system.eventually(lambda: asyncio.sleep(0, slow.arrived >= 2), timeout=30)
        await text(system, fast_number["e164"], "fast lane")
        await system.eventually(lambda: asyncio.sleep(0, fast.delivered()), timeout=30)
        # it went past the slow number's queue: 12 texts at 2 at a time take 9 s, and most are still waiting
        assert slow.arrived < 12
        assert slow.max_active == 2  # one number never takes more than its share of the workers


async def test_pending_deliveries_survive_a_restart_of_inbound(settings_env: dict[str, str]) -> None:
    env = {**SHORT_RETRIES, "AM_INBOUND_WEBHOOK_RETRY_WINDOW_S": "60", "AM_INBOUND_WEBHOOK_RETRY_CAP_S": "0.5"}
    async with running_system(settings_env, env) as system, Receiver() as receiver:
        receiver.always_fail = True
        key, number = await new_org(system, receiver.url)
        await text(system, number["e164"], "still here?")
        await system.eventually(lambda: asyncio.sleep(0, len(receiver.calls) >= 2), timeout=30)
        old = system.services["inbound"]
        await old.stop()
        receiver.always_fail = False
        fresh, setup = build_inbound({**system.env, "AM_HTTP_PORT": str(old.port)})
        await fresh.start(setup)
        try:
            await system.eventually(lambda: asyncio.sleep(0, receiver.delivered()), timeout=30)
            [msg] = await inbox(system, key)
            assert list(receiver.delivered()) == [msg["id"]]
        finally:
            await fresh.stop()



@contextlib.asynccontextmanager
async def failing_webhook(settings_env: dict[str, str]) -> AsyncIterator[tuple[System, Receiver, dict[str, Any]]]:
    """A system whose webhook retries wait 30 s, and a number whose inbound_url always fails: a text's
    delivery stays pending after its first attempt. (system, receiver, number)."""
    env = {**SHORT_RETRIES, "AM_INBOUND_WEBHOOK_RETRY_BASE_S": "30", "AM_INBOUND_WEBHOOK_RETRY_CAP_S": "30",
           "AM_INBOUND_WEBHOOK_RETRY_WINDOW_S": "300"}
    async with running_system(settings_env, env) as system, Receiver() as receiver:
        receiver.always_fail = True
        _, number = await new_org(system, receiver.url)
        yield system, receiver, number

async def test_successes_completed_together_record_every_attempt_and_one_event_each(
        settings_env: dict[str, str]) -> None:
    """2xx attempts are group-committed (store.complete_successes): each attempt is history, a delivery still
    pending in its generation is completed once with one event — even when two attempts of it (a lease ran
    out) meet in one batch — and one restarted meanwhile is left to its new generation."""
    from datetime import UTC, datetime

    from proto.events.inbound import WebhookDeliverySucceeded
    from services.inbound import store

    async with failing_webhook(settings_env) as (system, receiver, number):
        await text(system, number["e164"], "one")
        await text(system, number["e164"], "two")
        await system.eventually(lambda: asyncio.sleep(0, len(receiver.calls) >= 2), timeout=30)
        es = system.services["inbound"].store
        rows = await es.pool.fetch("SELECT id::text AS id, org_id, message_id::text AS message_id, generation"
                                   " FROM webhook_deliveries WHERE state = 'pending' ORDER BY id")
        assert len(rows) == 2
        first, second = rows

        def success(row: Any, generation: int) -> store.Success:
            ev = WebhookDeliverySucceeded(org_id=row["org_id"], delivery_id=row["id"], message_id=row["message_id"],
                                          phone_number_id=number["id"], message_event_id=str(uuid.uuid4()),
                                          attempts=9, status_code=200, latency_ms=3)
            attempt = store.Attempt(row["org_id"], 9, datetime.now(UTC), True, 200, 3, None, receiver.url)
            return store.Success(row["id"], generation, attempt, ev)

        done = await store.complete_successes(es, [
            success(first, first["generation"]), success(first, first["generation"]),
            success(second, second["generation"] + 1)])
        assert done == {first["id"]}
        states = dict(await es.pool.fetch("SELECT id::text, state FROM webhook_deliveries"))
        assert states == {first["id"]: "succeeded", second["id"]: "pending"}
        events = await es.pool.fetch("SELECT stream_id, event_type FROM events WHERE event_type = $1",
                                     "WebhookDeliverySucceeded")
        assert [e["stream_id"] for e in events] == [store.stream_id(first["id"])]
        attempts = await es.pool.fetchval("SELECT count(*) FROM webhook_attempts WHERE attempt = 9")
        assert attempts == 3


async def test_a_success_completed_while_a_failure_of_it_commits_waits_and_appends_after_it(
        settings_env: dict[str, str]) -> None:
    """store.complete_successes appends at the stream's head as its statement saw it before the delivery's
    row lock: a failed attempt of the same delivery that commits while the statement waits for that lock
    takes the version. The write is redone (nothing of it was kept), not failed with its whole batch."""
    from datetime import UTC, datetime

    from libs.store import Write
    from proto.events.inbound import WebhookDeliveryAttempted, WebhookDeliverySucceeded
    from services.inbound import store

    async with failing_webhook(settings_env) as (system, receiver, number):
        await text(system, number["e164"], "one")
        es = system.services["inbound"].store
        row = await system.eventually(lambda: es.pool.fetchrow(
            "SELECT d.id::text AS id, d.org_id, d.message_id::text AS message_id, d.generation, e.version"
            " FROM webhook_deliveries d JOIN events e ON e.stream_id = 'webhook_delivery-' || d.id::text"
            " WHERE d.state = 'pending' ORDER BY e.version DESC LIMIT 1"), timeout=10)  # its first failure is in
        sid = store.stream_id(row["id"])
        ids = {"org_id": row["org_id"], "delivery_id": row["id"], "message_id": row["message_id"],
               "phone_number_id": number["id"], "message_event_id": str(uuid.uuid4())}
        ok = store.Success(row["id"], row["generation"],
                           store.Attempt(row["org_id"], 9, datetime.now(UTC), True, 200, 3, None, receiver.url),
                           WebhookDeliverySucceeded(**ids, attempts=9, status_code=200, latency_ms=3))
        async with es.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("SELECT 1 FROM webhook_deliveries WHERE id = $1::uuid FOR UPDATE", row["id"])
            await es.write(Write().append(sid, row["version"], [WebhookDeliveryAttempted(**ids, attempt=8)]), conn)
            completing = asyncio.create_task(store.complete_successes(es, [ok]))
            await system.eventually(lambda: es.pool.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%webhook_deliveries%'"), timeout=10)
            await tx.commit()
        assert await asyncio.wait_for(completing, 10 * SLACK) == {row["id"]}
        types = [r["event_type"] for r in await es.pool.fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", sid)]
        assert types[-2:] == ["WebhookDeliveryAttempted", "WebhookDeliverySucceeded"], types
