"""Sends in flight together share one request to outbound (group commit): ``POST /v1/messages`` hands
its ``SendMessage`` to ``Sends``, which asks ``send_messages`` for every send waiting, each with its own
trace, and answers each request with its own message or its own error. When idle a send goes out at
once; under load the batches grow and the round trips, and the bus messages, per send fall."""

from __future__ import annotations

from aiohttp import web

from libs.bus.rpc import RpcClient
from libs.obs.tracing import current_traceparent
from libs.runtime.batching import Batcher
from proto.base import CommandError
from proto.commands import outbound as c


class Sends:
    def __init__(self, rpc: RpcClient, max_batch: int, workers: int):
        self.rpc = rpc
        self._batcher: Batcher[c.BatchedSend, c.SendResult] = Batcher(
            "sends", self._flush, max_batch=max_batch, workers=workers)

    async def send(self, cmd: c.SendMessage) -> c.MessageView:
        """The accepted message, or the error outbound answered for this send (``CommandError``)."""
        result = await self._batcher.submit(c.BatchedSend(command=cmd, traceparent=current_traceparent()))
        if result.error is not None:
            raise CommandError.from_body(result.error)
        if result.message is None:
            raise CommandError("SERVICE_UNAVAILABLE", "outbound answered the send without a message; retry", 503)
        return result.message

    async def close(self) -> None:
        await self._batcher.stop()

    async def _flush(self, sends: list[c.BatchedSend]) -> list[c.SendResult]:
        answered = await self.rpc.call(c.SendMessages(sends=sends))
        if len(answered.results) != len(sends):  # none is trusted: each send answers 503 and may be retried
            raise CommandError("SERVICE_UNAVAILABLE",
                               f"outbound answered {len(answered.results)} sends for {len(sends)}; retry", 503)
        return answered.results


SENDS_KEY: web.AppKey[Sends] = web.AppKey("sends", Sends)
