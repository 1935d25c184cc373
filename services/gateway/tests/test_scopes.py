"""Scopes and caps at the gateway: every route declares a scope; the guard's pure checks; the shared
counters hold a cap across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats
import pytest

from proto.base import CommandError
from proto.commands.accounts import KeyCaps, Principal
from proto.http.accounts import CreateKeyBody, KeyCapsBody
from proto.scopes import SCOPES
from proto.subjects import Subjects
from services.gateway.routes import all_routes
from services.gateway.scopes import key_grants
from services.gateway.usage import KeyGuard, UsageCounters


def test_every_authenticated_route_declares_a_known_scope() -> None:
    from services.gateway.scopes import ROUTE_SCOPES

    for r in all_routes():
        if r.auth:
            assert ROUTE_SCOPES.get(f"{r.method} {r.path}") in SCOPES, f"{r.method} {r.path} declares no scope"


def _p(scopes: list[str] | None = None, caps: KeyCaps | None = None, expires_at: datetime | None = None) -> Principal:
    return Principal(org_id="o", key_id="k", scopes=scopes, caps=caps, expires_at=expires_at)


def test_scopes_are_checked_and_none_means_everything() -> None:
    guard = KeyGuard(None, 7900)
    guard.admit("POST", "/v1/messages", _p(), b"{}")
    guard.admit("GET", "/v1/messages", _p(["messages:read"]), b"")
    with pytest.raises(CommandError) as e:
        guard.admit("POST", "/v1/messages", _p(["messages:read"]), b"{}")
    assert (e.value.code, e.value.status, e.value.details["scope"]) == ("SCOPE_REQUIRED", 403, "messages:send")


def test_recipients_by_number_or_prefix_and_the_send_is_priced() -> None:
    guard = KeyGuard(None, 7900)
    caps = KeyCaps(allowed_recipients=["+1415", "+15551234567"])
    body = b'{"from":"+14155550100","to":"+1 (555) 123-4567","text":"' + b"x" * 161 + b'"}'
    adm = guard.admit("POST", "/v1/messages", _p(caps=caps), body)
    assert adm.send and adm.cost_micros == 2 * 7900
    guard.admit("POST", "/v1/messages", _p(caps=caps), b'{"to":"+14155559999"}')
    with pytest.raises(CommandError) as e:
        guard.admit("POST", "/v1/messages", _p(caps=caps), b'{"to":"+15551234568"}')
    assert e.value.code == "RECIPIENT_NOT_ALLOWED" and e.value.status == 403
    with pytest.raises(CommandError):
        guard.admit("POST", "/v1/consent/double-opt-in", _p(caps=caps), b'{"contact_number":"+12125550100"}')


def test_an_expired_key_is_401() -> None:
    with pytest.raises(CommandError) as e:
        KeyGuard(None, 1).admit("GET", "/v1/balance", _p(expires_at=datetime(2020, 1, 1, tzinfo=UTC)), b"")
    assert e.value.status == 401
    KeyGuard(None, 1).admit("GET", "/v1/balance", _p(expires_at=datetime(2999, 1, 1, tzinfo=UTC)), b"")  # not yet


def test_presets_expand_and_caps_normalise() -> None:
    scopes, caps = key_grants(CreateKeyBody(name="a", preset="read-only", scopes=["keys:write"],
                                            caps=KeyCapsBody(spend_per_day="1", expires_at="2030-01-01T01:00:00+01:00")))
    assert scopes == ["messages:read", "numbers:read", "compliance:read", "keys:write", "billing:read"]
    assert caps is not None and caps.spend_per_day == "1.0000" and caps.expires_at == "2030-01-01T00:00:00.000Z"
    assert key_grants(CreateKeyBody(name="a")) == (None, None)


async def test_a_cap_holds_across_replicas(nats_url: str, subject_root: str) -> None:
    """Two gateways (two connections, one bucket) racing for a cap of 10: exactly 10 win."""
    ncs = [await nats.connect(nats_url) for _ in range(2)]
    try:
        subjects = Subjects(subject_root)
        a, b = UsageCounters(await _kv(ncs[0], subjects)), UsageCounters(await _kv(ncs[1], subjects))
        results = await asyncio.gather(*((a if i % 2 else b).add("k1.d.20260101", 1, 10) for i in range(30)))
        assert sum(1 for ok, _ in results if ok) == 10
        assert (await a.usage("k1")).sends_today == 0  # another day's counter
        ok, value = await b.add("k1.d.20260101", -1, None)
        assert ok and value == 9
    finally:
        for nc in ncs:
            await nc.close()


async def _kv(nc: nats.NATS, subjects: Subjects):  # type: ignore[no-untyped-def]
    counters = await UsageCounters.open(nc, subjects)
    await counters.close()
    return counters.kv


def test_a_limited_key_cannot_mint_a_less_limited_one() -> None:
    guard = KeyGuard(None, 1)
    scoped = _p(["keys:write", "messages:read"])
    guard.admit("POST", "/v1/api-keys", scoped, b'{"name":"x","scopes":["messages:read"]}')
    for body, scope in ((b'{"name":"x"}', "messages:send"), (b'{"name":"x","preset":"read-only"}', "numbers:read")):
        with pytest.raises(CommandError) as e:
            guard.admit("POST", "/v1/api-keys", scoped, body)
        assert (e.value.code, e.value.details["scope"]) == ("SCOPE_REQUIRED", scope)
    with pytest.raises(CommandError) as e:
        guard.admit("POST", "/v1/api-keys", _p(caps=KeyCaps(sends_per_day=3)), b'{"name":"x"}')
    assert (e.value.code, e.value.status) == ("KEY_CAPPED", 403)
    guard.admit("POST", "/v1/api-keys", _p(), b'{"name":"x"}')  # a full key may


def test_the_admission_reads_the_body_the_route_decoded() -> None:
    """The send's JSON is decoded once (by the pipeline, for the route): the guard checks and prices that
    body, not the raw bytes again (empty here)."""
    from proto.http.messages import SendMessageBody

    guard = KeyGuard(None, 7900)
    caps = KeyCaps(allowed_recipients=["+1415"], allowed_from=["+1212"])
    body = SendMessageBody(from_="+12125550100", to="+14155550123", text="x" * 161)
    adm = guard.admit("POST", "/v1/messages", _p(caps=caps), b"", body)
    assert adm.send and adm.cost_micros == 2 * 7900
    with pytest.raises(CommandError) as e:
        guard.admit("POST", "/v1/messages", _p(caps=caps), b"",
                    SendMessageBody(from_="+12125550100", to="+15551234567", text="hi"))
    assert (e.value.code, e.value.details["field"]) == ("RECIPIENT_NOT_ALLOWED", "to")
    with pytest.raises(CommandError) as e:
        guard.admit("POST", "/v1/messages", _p(caps=caps), b"",
                    SendMessageBody(from_="+13125550100", to="+14155550123", text="hi"))
    assert (e.value.code, e.value.details["field"]) == ("RECIPIENT_NOT_ALLOWED", "from")
    # a key may not mint a key its decoded body asks for either
    with pytest.raises(CommandError) as e:
        guard.admit("POST", "/v1/api-keys", _p(["keys:write"]), b"", CreateKeyBody(name="x"))
    assert e.value.code == "SCOPE_REQUIRED"


async def test_only_the_caps_a_key_has_are_compared_and_set(nats_url: str, subject_root: str) -> None:
    """A key capped at sends_per_day alone: that one counter is compared and set in the bucket; its
    minute and spend are tallied for usage, and a send not accepted is taken back from both."""
    from services.gateway.scopes import Admission

    nc = await nats.connect(nats_url)
    usage = await UsageCounters.open(nc, Subjects(subject_root))
    try:
        guard = KeyGuard(usage, 7900)
        caps = KeyCaps(sends_per_day=2)
        first = Admission(key_id="k2", caps=caps, send=True, cost_micros=7900)
        await guard.reserve(first)
        assert [key.split(".")[1] for key, _ in first.counted] == ["d"]
        refused = Admission(key_id="k2", caps=caps, send=True, cost_micros=7900)
        await guard.reserve(refused)
        await guard.release(refused)  # e.g. a 453 from the gate
        await usage.flush()
        keys = await usage.kv.keys()
        assert sorted(k.split(".")[1] for k in keys if k.startswith("k2.")) == ["d", "m", "s"]
        got = await usage.usage("k2")
        assert (got.sends_this_minute, got.sends_today, got.spend_today) == (1, 1, "0.0079")
        await guard.reserve(Admission(key_id="k2", caps=caps, send=True, cost_micros=7900))
        with pytest.raises(CommandError) as e:
            await guard.reserve(Admission(key_id="k2", caps=caps, send=True, cost_micros=7900))
        assert (e.value.code, e.value.details["cap"], e.value.details["used"]) == ("CAP_EXCEEDED", "sends_per_day", 2)
    finally:
        await usage.close()
        await nc.close()


async def test_usage_read_while_a_flush_moves_the_tally_counts_each_send_once(nats_url: str, subject_root: str) -> None:
    """A read of the bucket taken before a flush wrote this replica's tally, added to the tally after the
    flush cleared it, missed the send (usage 0 after a send: seen on a loaded machine). It reads again."""
    nc = await nats.connect(nats_url)
    usage = UsageCounters(await _kv(nc, Subjects(subject_root)))  # no background flusher: the test flushes
    try:
        usage.tally("k3", 1, 1, 7900)
        bucket_read, flushed = asyncio.Event(), asyncio.Event()
        read_bucket = usage._get

        async def read_before_the_flush(key: str) -> int:  # the bucket as it was, answered after the flush
            value = await read_bucket(key)
            bucket_read.set()
            await flushed.wait()
            return value

        usage._get = read_before_the_flush  # type: ignore[method-assign]
        reading = asyncio.create_task(usage._usage("k3"))
        await bucket_read.wait()
        await usage.flush()
        flushed.set()
        got = await reading
        assert (got.sends_this_minute, got.sends_today, got.spend_today) == (1, 1, "0.0079")
    finally:
        await nc.close()
