"""No secret on the bus: a NATS client subscribed to every subject (``>``) while an organization signs
up, logs in, creates a key and makes authenticated calls sees neither the password nor any API key
secret."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import re
import uuid

import nats
import pytest

from tests.system import System


@pytest.mark.parametrize("idempotent", [False, True])  # with an Idempotency-Key, the replay record too
async def test_signup_key_creation_and_auth_put_no_secret_on_nats(system: System, nats_url: str,
                                                                   idempotent: bool) -> None:
    payloads: list[bytes] = []

    async def on_msg(msg: nats.aio.msg.Msg) -> None:
        payloads.append(msg.data + b"".join(f"{k}:{v}".encode() for k, v in (msg.headers or {}).items()))

    nc = await nats.connect(nats_url)  # the test session's admin user: may subscribe to everything
    try:
        await nc.subscribe(">", cb=on_msg)
        await nc.flush()
        password = f"pw-{uuid.uuid4().hex}"

        def idem() -> dict[str, str]:
            return {"Idempotency-Key": str(uuid.uuid4())} if idempotent else {}

        email = f"sniff-{uuid.uuid4().hex[:8]}@example.com"
        signup_raw = json.dumps({"email": email, "password": password, "organization_name": "Sniffed Org"}).encode()
        status, body, _ = await system.call("POST", "/v1/signup", data=signup_raw,
                                            headers={**idem(), "Content-Type": "application/json"})
        assert status == 201, body
        first = body["data"]["api_key"]["secret"]
        status, body, _ = await system.call("POST", "/v1/sessions", json={"email": email, "password": password})
        assert status == 201, body  # a log-in: the password verified at the gateway, not sent on
        status, body, _ = await system.call("POST", "/v1/api-keys", key=first, json={"name": "ci"}, headers=idem())
        assert status == 201, body
        second = body["data"]["secret"]
        for key in (first, second):
            for path in ("/v1/api-keys", "/v1/balance", "/v1/phone-numbers"):
                status, body, _ = await system.call("GET", path, key=key)
                assert status == 200, body
        status, _, _ = await system.call("GET", "/v1/balance", key=first[:-4] + "AAAA")  # a wrong key
        assert status == 401
        # everything the calls above put on NATS reached the server before this, so it reaches us first
        sentinel = f"sniffer.done.{uuid.uuid4().hex}"
        done = asyncio.Event()

        async def on_sentinel(_: nats.aio.msg.Msg) -> None:
            done.set()

        await nc.subscribe(sentinel, cb=on_sentinel)
        await nc.publish(sentinel, b"")
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await nc.close()
    assert len(payloads) > 10  # the sniffer did see the traffic
    seen = b"\n".join(payloads)
    # bytes inside a msgspec/JSON payload travel base64-encoded: look inside those too
    for run in re.findall(rb"[A-Za-z0-9+/]{24,}", seen):
        for start in range(4):  # any alignment: the run may begin mid-quantum
            chunk = run[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            with contextlib.suppress(binascii.Error, ValueError):
                seen += b"\n" + base64.b64decode(chunk)
    for secret in (password, first, second, first[len("am_live_"):], second[len("am_live_"):]):
        assert secret.encode() not in seen, "a secret travelled on NATS"
    # nor a fast hash of the signup body (the replay record's fingerprint): that would let anyone who
    # reads the bus test password guesses at the speed of SHA-256
    from services.gateway.edge import canonical_json

    for form in (signup_raw, canonical_json(signup_raw)):  # (the fingerprint is taken of the canonical JSON)
        assert hashlib.sha256(form).hexdigest().encode() not in seen
