"""A message's status_callback_url under the callback URL rule in production mode: refused when the send
names a non-public address, and — when its host name rebinds to a private address after the send was
accepted — refused at delivery, with nothing sent to the address behind it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from libs.testing.dns import fake_dns
from libs.testing.receiver import receiving
from services.outbound.tests.integration.harness import Pipe, handset


@pytest.fixture
def dns() -> Iterator[dict[str, list[str]]]:
    """Host → addresses; ``dns["rebind:<host>"] = [...]`` makes later lookups of <host> answer those."""
    with fake_dns({}) as table:
        yield table


async def test_status_callbacks_follow_the_url_rule(make_pipe: Any, dns: dict[str, list[str]]) -> None:
    p: Pipe = await make_pipe({"AM_ENV": "prod"})
    await p.onboard(secrets=["whsec_number_secret"])
    dns["inside.example.com"] = ["10.0.0.7"]
    for url in ("https://169.254.169.254/latest/meta-data/", "https://100.100.100.200/", "https://[2002:a9fe:a9fe::]/",
                "http://127.0.0.1:9/x", "https://inside.example.com/cb", "https://u:p@hooks.example.com/"):
        status, body = await p.send(handset(), status_callback_url=url)
        assert status == 400 and body["error"]["details"]["field"] == "status_callback_url", (url, body)

    hits: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=204)

    async with receiving("/status", receive) as port:
        dns["hooks.example.com"] = ["93.184.216.34"]  # public when the send is accepted …
        dns["rebind:hooks.example.com"] = ["127.0.0.1"]  # … the receiver's address at every lookup after
        status, body = await p.send(handset(), status_callback_url=f"https://hooks.example.com:{port}/status")
        assert status == 202, body
        mid = body["data"]["id"]

        async def all_failed() -> Any:
            _, b, _ = await p.call("GET", f"/v1/messages/{mid}/status-callbacks")
            rows = b["data"]
            return rows if len(rows) >= 4 and all(r["state"] == "failed" for r in rows) else None

        rows = await p.system.eventually(all_failed, timeout=20)
        assert all("refused by the callback URL rule" in r["last_error"] and r["attempts"] == 1 for r in rows)
        assert hits == []
