"""The pre-fill generator (tests/prefill.py) writes what the services read: a generated organization's
key authenticates, its messages and inbound texts are served through the API, page by page, and none
of the old events is published again by a relay."""

from __future__ import annotations

from typing import Any

import asyncpg
import nats

from libs.store.archive import archive_finished
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
        assert counts["events"] >= 7 * 1000 + 60
        key = api_key_secret(7, 0)

        mid = det_id(7, "msg", 0, 3)
        status, body, _ = await system.call("GET", f"/v1/messages/{mid}", key=key)
        assert status == 200, body
        msg = body["data"]
        assert msg["status"] == "delivered" and msg["to"] == "+16070000003" and msg["from"] == "+17075550000"
        assert [s["status"] for s in msg["timeline"]] == ["queued", "sending", "sent", "delivered"]
        assert (await system.call("GET", f"/v1/messages/{mid}", key=api_key_secret(7, 1)))[0] == 404  # scoped

        listed = await _pages(system, key, "/v1/messages")
        assert len(listed) == 500 and len({m["id"] for m in listed}) == 500
        assert all(m["status"] == "delivered" for m in listed)
        status, body, _ = await system.call("GET", "/v1/compliance/decisions", key=key, params={"message_id": mid})
        assert status == 200 and sorted(d["stage"] for d in body["data"]) == ["accept", "submit"], body
        convs = await _pages(system, key, "/v1/conversations")
        assert len(convs) == 10  # one per contact, its texts both ways counted
        assert sum(c["message_count"] for c in convs) == 500 + 30, convs[0]
        texts = await _pages(system, key, "/v1/inbound-messages")
        assert len(texts) == 30 and {t["to"] for t in texts} == {"+17075550000"}

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

        # retention: the finished streams older than 30 days leave `events`; the API answers as before
        pool = system.services["outbound"].pool
        schema = Subjects(root).schema("outbound")
        recent = det_id(7, "msg", 0, 499)  # the last one made: about an hour old
        hot = await pool.fetchval("SELECT count(*) FROM events")
        done = await archive_finished(pool, schema, 30.0, batch=500)
        assert 0 < done.events < hot
        assert await pool.fetchval("SELECT count(*) FROM events_archive") == done.events
        assert await pool.fetchval("SELECT count(*) FROM events") == hot - done.events
        assert await pool.fetchval("SELECT count(*) FROM events_archive WHERE stream_id = $1", f"message-{mid}") == 4
        assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", f"message-{recent}") == 4
        assert await pool.fetchval("SELECT count(*) FROM events_archive WHERE recorded_at >= now() - interval '30 days'"
                                   ) == 0
        status, again, _ = await system.call("GET", f"/v1/messages/{mid}", key=key)
        assert status == 200 and again["data"] == msg
        assert len(await _pages(system, key, "/v1/messages")) == 500
        # a second run finds nothing more; live streams (keys, organizations) never leave
        assert (await archive_finished(pool, schema, 30.0)).events == 0
        accounts = system.services["accounts"].pool
        moved = await archive_finished(accounts, Subjects(root).schema("accounts"), 30.0)
        assert moved.events > 0
        assert await accounts.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'api_key-%'") >= 3
        assert (await system.call("GET", "/v1/api-keys", key=key))[0] == 200
