"""The signed webhook sender (libs.webhooks.sender): what a receiver gets, and how an attempt is judged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from libs.backoff import RetryPolicy
from libs.embedded.ports import free_port
from libs.webhooks.sender import Attempt, Verdict, WebhookSender
from libs.webhooks.signing import HEADER, verify
from proto.base import utcnow


@dataclass
class Receiver:
    port: int
    status: int = 200
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(free_port())

    async def hook(request: web.Request) -> web.Response:
        rec.got.append((dict(request.headers), await request.read()))
        return web.Response(status=rec.status)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/hook")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/moved", moved)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", rec.port).start()
    try:
        yield rec
    finally:
        await runner.cleanup()


POLICY = RetryPolicy(base_s=1.0, cap_s=60.0, window_s=3600.0)


async def test_the_receiver_gets_the_body_signed_with_every_secret_and_the_event_id(receiver: Receiver) -> None:
    sender = WebhookSender("test", "test", 5.0, POLICY, user_agent="AgentMessage-Test/1")
    try:
        attempt = await sender.post(receiver.url(), b'{"a":1}', ["new", "old"], "ev-1")
    finally:
        await sender.close()
    assert attempt.ok and attempt.status == 200 and attempt.error is None and not attempt.refused
    headers, body = receiver.got[0]
    assert body == b'{"a":1}'
    assert headers["X-AmCore-Event-Id"] == "ev-1"
    assert headers["User-Agent"] == "AgentMessage-Test/1"
    assert headers["Content-Type"] == "application/json"
    assert verify("new", headers[HEADER], body) and verify("old", headers[HEADER], body)
    assert not verify("other", headers[HEADER], body)


async def test_without_secrets_it_is_sent_unsigned_and_a_non_2xx_is_an_error(receiver: Receiver) -> None:
    receiver.status = 503
    sender = WebhookSender("test", "test", 5.0, POLICY)
    try:
        attempt = await sender.post(receiver.url(), b"{}", [], "ev-2")
        moved = await sender.post(receiver.url("/moved"), b"{}", [], "ev-3")
    finally:
        await sender.close()
    assert HEADER not in receiver.got[0][0]
    assert not attempt.ok and attempt.status == 503 and attempt.error == "HTTP 503"
    assert moved.status == 302 and len(receiver.got) == 1  # a redirect is never followed


async def test_a_url_the_rule_refuses_is_not_called() -> None:
    sender = WebhookSender("test", "prod", 5.0, POLICY)
    try:
        attempt = await sender.post("https://10.0.0.1/hook", b"{}", ["s"], "ev-4")
    finally:
        await sender.close()
    assert attempt.refused and attempt.status is None and "refused" in (attempt.error or "")


def failed(refused: bool = False) -> Attempt:
    return Attempt("https://x.example/h", utcnow(), None if refused else 500, "boom", 3, refused)


def test_verdicts_delivered_retrying_with_backoff_then_failed_past_the_window() -> None:
    sender = WebhookSender("test", "test", 5.0, POLICY)
    ok = Attempt("https://x.example/h", utcnow(), 204, None, 3)
    assert sender.verdict(ok, 1, 0.0, 0.5) == Verdict("delivered")
    assert sender.verdict(failed(), 1, 0.0, 0.0) == Verdict("retrying", 0.5)
    assert sender.verdict(failed(), 3, 10.0, 0.0) == Verdict("retrying", 2.0)
    assert sender.verdict(failed(), 3, 3600.0, 0.0) == Verdict("failed")


def test_a_refused_url_is_final_unless_it_may_change_before_the_next_attempt() -> None:
    sender = WebhookSender("test", "test", 5.0, RetryPolicy(base_s=1.0, cap_s=60.0, max_attempts=5))
    assert sender.verdict(failed(refused=True), 1, 0.0, 0.0) == Verdict("failed")
    assert sender.verdict(failed(refused=True), 1, 0.0, 0.0, final_on_refusal=False) == Verdict("retrying", 0.5)
    assert sender.verdict(failed(), 5, 0.0, 0.0) == Verdict("failed")
