"""Submitting through the carrier service (``am.cmd.carrier.submit_messages``): what outbound's
dispatcher uses. The carrier service owns every upstream connection; its refusals come back as a
CarrierError with our error code, and anything that means "nothing was sent, try later" as transient.
The messages submitted in one pass of the event loop (those one committed step let go) share one request;
each is answered on its own."""

from __future__ import annotations

from libs.bus.rpc import RpcClient
from libs.carrier.http_api import CarrierError
from libs.runtime.batching import Coalescer
from libs.sms import TEXTS_PER_REQUEST
from proto.base import CommandError
from proto.commands.carrier import SubmitMessage, SubmitMessages, Submitted

_TRANSIENT = frozenset({"CARRIER_UNAVAILABLE", "SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT"})


class CarrierClient:
    def __init__(self, rpc: RpcClient, timeout_s: float, max_batch: int = TEXTS_PER_REQUEST):
        self.rpc = rpc
        self.timeout_s = timeout_s
        self._submissions: Coalescer[SubmitMessage, Submitted | CommandError] = Coalescer(
            "carrier-submissions", self._submit_many, max_batch=max_batch)

    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str:
        """Idempotent on ``reference`` (the message id): asked again, the carrier service answers the first
        submission's outcome and never submits twice."""
        out = await self._submissions.submit(SubmitMessage(
            org_id=org_id, message_id=reference, from_=from_, to=to, text=text))
        if isinstance(out, CommandError):
            transient = out.code in _TRANSIENT or out.status >= 500
            raise CarrierError(out.message, transient=transient, status=out.status,
                               body={"code": out.details.get("carrier_code") or out.code}, code=out.code)
        return out.carrier_message_id

    async def _submit_many(self, messages: list[SubmitMessage]) -> list[Submitted | CommandError]:
        """One request for the batch; a request that failed as a whole (no carrier service, no answer in
        time) is that error for each of its messages."""
        try:
            out = await self.rpc.call(SubmitMessages(messages=messages), timeout=self.timeout_s)
        except CommandError as exc:
            return [exc] * len(messages)
        if len(out.results) != len(messages):
            return [CommandError("BAD_REPLY", "the carrier service answered a different number of messages",
                                 502)] * len(messages)
        return [r.submitted if r.submitted is not None
                else CommandError.from_body(r.error or _NO_ANSWER.body()) for r in out.results]

    async def close(self) -> None:
        await self._submissions.stop()


_NO_ANSWER = CommandError("NO_ANSWER", "the carrier service gave no answer for the message", 502)
