"""The gateway's group commit of sends, over real NATS against a stand-in for outbound's
``send_messages``: sends in flight together go as one request, each is answered with its own message or
its own error and keeps its own trace, and an answer that cannot be matched up fails every send with 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest

from libs.bus.rpc import RpcClient, RpcServer
from libs.obs.tracing import configure_tracing, current_traceparent, tracer
from proto.base import CommandError, ErrorBody
from proto.commands import outbound as c
from proto.subjects import Subjects
from services.gateway.sends import Sends

Handler = Callable[[c.SendMessages], Awaitable[c.SendResults]]


def view(cmd: c.SendMessage) -> c.MessageView:
    return c.MessageView(id=cmd.message_id or "", from_=cmd.from_, to=cmd.to, text=cmd.text, status="queued",
                         created_at="2026-12-07T00:00:00Z", segments=1, encoding="GSM-7", price="0.0079")


def send(n: int) -> c.SendMessage:
    return c.SendMessage(org_id="org", message_id=f"m{n}", from_="+12125550100", to=f"+1212555{n:04d}",
                         text=f"text {n}")


@pytest.fixture
async def outbound(nats_url: str, subject_root: str) -> AsyncIterator[Callable[[Handler], Awaitable[Sends]]]:
    """Serves ``send_messages`` with the handler given; answers the gateway's ``Sends`` (one request in
    flight at a time, so that the sends arriving meanwhile gather)."""
    nc = await nats.connect(nats_url)
    server = RpcServer(nc, Subjects(subject_root), "outbound")
    made: list[Sends] = []

    async def serve(handler: Handler) -> Sends:
        await server.serve({c.SendMessages: handler})
        made.append(Sends(RpcClient(nc, Subjects(subject_root), default_timeout=10), max_batch=100, workers=1))
        return made[-1]

    yield serve
    for s in made:
        await s.close()
    await server.close()
    await nc.close()


async def test_sends_in_flight_together_go_as_one_request_each_answered_and_traced_on_its_own(
        outbound: Callable[[Handler], Awaitable[Sends]]) -> None:
    configure_tracing("test")
    batches: list[list[c.BatchedSend]] = []
    first_in, release = asyncio.Event(), asyncio.Event()

    async def handler(cmd: c.SendMessages) -> c.SendResults:
        batches.append(cmd.sends)
        first_in.set()
        await release.wait()  # the first request is held until the others have gathered behind it
        return c.SendResults(results=[
            c.SendResult(message=view(b.command)) if int(b.command.text.split()[1]) % 2 == 0
            else c.SendResult(error=ErrorBody(code="CONSENT_REQUIRED", message="no consent", status=453))
            for b in cmd.sends])

    sends = await outbound(handler)

    async def traced(n: int) -> tuple[str | None, c.MessageView | CommandError]:
        with tracer().start_as_current_span(f"POST {n}"):
            tp = current_traceparent()
            try:
                return tp, await sends.send(send(n))
            except CommandError as exc:
                return tp, exc

    first = asyncio.create_task(traced(0))
    await asyncio.wait_for(first_in.wait(), 5)
    rest = [asyncio.create_task(traced(n)) for n in range(1, 6)]
    async def gathered() -> None:
        while len(sends._batcher._queue) < 5:  # every one of them waiting behind the first request
            await asyncio.sleep(0.01)

    await asyncio.wait_for(gathered(), 10)
    release.set()
    answers = await asyncio.gather(first, *rest)

    assert [len(b) for b in batches] == [1, 5]
    for n, (_, answer) in enumerate(answers):
        if n % 2 == 0:
            assert isinstance(answer, c.MessageView) and answer.id == f"m{n}", answer
        else:
            assert isinstance(answer, CommandError) and (answer.code, answer.status) == ("CONSENT_REQUIRED", 453)
    sent = [b for batch in batches for b in batch]
    assert [b.command.message_id for b in sent] == [f"m{n}" for n in range(6)]
    assert [b.traceparent for b in sent] == [tp for tp, _ in answers]  # each send in its own trace
    assert None not in {b.traceparent for b in sent} and len({b.traceparent for b in sent}) == 6


async def test_an_answer_that_cannot_be_matched_up_fails_every_send_with_503(
        outbound: Callable[[Handler], Awaitable[Sends]]) -> None:
    async def short(cmd: c.SendMessages) -> c.SendResults:
        return c.SendResults(results=[c.SendResult(message=view(cmd.sends[0].command))])  # one, whatever was asked

    sends = await outbound(short)
    assert (await sends.send(send(0))).id == "m0"  # alone in its request: its own answer
    answers = await asyncio.gather(*(sends.send(send(n)) for n in range(1, 4)), return_exceptions=True)
    # (queued in one step, the three go in one request; none of them is given another's message)
    assert all(isinstance(a, CommandError) and (a.code, a.status) == ("SERVICE_UNAVAILABLE", 503)
               for a in answers), answers


async def test_outbound_not_answering_is_503(nats_url: str, subject_root: str) -> None:
    nc = await nats.connect(nats_url)
    sends = Sends(RpcClient(nc, Subjects(subject_root), default_timeout=0.5), max_batch=100, workers=1)
    try:
        with pytest.raises(CommandError) as err:
            await sends.send(send(1))
        assert err.value.status == 503 and err.value.code in ("SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT")
    finally:
        await sends.close()
        await nc.close()
