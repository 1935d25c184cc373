"""Submitting through the carrier service (``am.cmd.carrier.submit_message``): what outbound's
dispatcher uses. The carrier service owns every upstream connection; its refusals come back as a
CarrierError with our error code, and anything that means "nothing was sent, try later" as transient."""

from __future__ import annotations

from libs.bus.rpc import RpcClient
from libs.carrier.http_api import CarrierError
from proto.base import CommandError
from proto.commands.carrier import SubmitMessage, Submitted

_TRANSIENT = frozenset({"CARRIER_UNAVAILABLE", "SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT"})


class CarrierClient:
    def __init__(self, rpc: RpcClient, timeout_s: float):
        self.rpc = rpc
        self.timeout_s = timeout_s

    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str:
        """Idempotent on ``reference`` (the message id): asked again, the carrier service answers the first
        submission's outcome and never submits twice."""
        try:
            out: Submitted = await self.rpc.call(SubmitMessage(
                org_id=org_id, message_id=reference, from_=from_, to=to, text=text), timeout=self.timeout_s)
        except CommandError as exc:
            transient = exc.code in _TRANSIENT or exc.status >= 500
            raise CarrierError(exc.message, transient=transient, status=exc.status,
                               body={"code": exc.details.get("carrier_code") or exc.code}, code=exc.code) from exc
        return out.carrier_message_id

    async def close(self) -> None:
        return None
