"""The pre-fill generator (tests/prefill.py) writes what the services read: a generated organization's
key authenticates, its messages and inbound texts are served through the API, page by page, and none
of the old events is published again by a relay."""

from __future__ import annotations

from typing import Any

import asyncpg
import nats

from proto.subjects import Subjects
from tests.prefill import SERVICES, api_key_secret, det_id, prefill
from tests.system import System, running_system


async def _pages(system: System, key: str, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        status, body, _ = await system.call("GET", path, key=key,
                                            params={"limit": "100", **({"cursor": cursor} if cursor else {})})
        assert status == 200, body
        out += body["data"]
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            return out


async def test_generated_data_is_served_and_not_republished(settings_env: dict[str, str]) -> None:
    root = settings_env["AM_SUBJECT_ROOT"]
    async with running_system(settings_env) as system:
        # a live organization first, so each domain's stream exists and the relays are running
        await system.signup()
        counts = await prefill(settings_env["AM_DATABASE_URL"], Subjects(root), orgs=2, messages=1000, inbound=60,
                               contacts=10, seed=7, say=lambda _: None)
        assert counts["events"] >= 6 * 1000 + 60
        key = api_key_secret(7, 0)

        mid = det_id(7, "msg", 0, 3)
        status, body, _ = await system.call("GET", f"/v1/messages/{mid}", key=key)
        assert status == 200, body
        msg = body["data"]
        assert msg["status"] == "delivered" and msg["to"] == "+16000000003" and msg["from"] == "+17005550000"
        assert [s["status"] for s in msg["timeline"]] == ["queued", "sending", "sent", "delivered"]
        assert (await system.call("GET", f"/v1/messages/{mid}", key=api_key_secret(7, 1)))[0] == 404  # scoped

        listed = await _pages(system, key, "/v1/messages")
        assert len(listed) == 500 and len({m["id"] for m in listed}) == 500
        assert all(m["status"] == "delivered" for m in listed)
        texts = await _pages(system, key, "/v1/inbound-messages")
        assert len(texts) == 30 and {t["to"] for t in texts} == {"+17005550000"}

        # the relays saw the old events as published: nothing listed to publish, nothing on the streams
        conn = await asyncpg.connect(settings_env["AM_DATABASE_URL"])
        try:
            for svc in SERVICES:
                assert await conn.fetchval(f'SELECT count(*) FROM "{Subjects(root).schema(svc)}".outbox') == 0
        finally:
            await conn.close()
        nc = await nats.connect(settings_env["AM_NATS_URL"])
        try:
            js = nc.jetstream()
            info = await js.stream_info(Subjects(root).stream_name("outbound"))
            assert info.state.messages < 100, info.state
        finally:
            await nc.close()
