"""The upstream adapters behind the carrier service: SMPP (our ESME) and the HTTP carrier API (the
simulator's, or an aggregator shaped like it). Each answers a submission with the carrier's part ids, or
raises what happened: Unavailable (nothing sent), Refused (the carrier said no), Unconfirmed (sent, no
answer: never sent again)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from libs.carrier.http_api import CarrierError, HttpCarrier
from libs.obs.metrics import CARRIER_SUBMIT
from libs.smpp import pdu
from proto.commands.carrier import BindView, SubmitMessage
from services.carrier import model
from services.carrier.esme import Esme, Lost
from services.carrier.esme import Unavailable as EsmeUnavailable

AboutToWrite = Callable[[int], Awaitable[None]]
"""Called with the number of parts right before the first byte of a submission may leave."""


class Unavailable(Exception):
    """Nothing was sent; try again later."""


class Elsewhere(Exception):
    """Another attempt at the message holds its marker: this one sent nothing and does not send."""


class Refused(Exception):
    def __init__(self, code: str, reason: str, parts_accepted: int = 0):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.parts_accepted = parts_accepted


class Unconfirmed(Exception):
    """Sent (at least in part) and not acknowledged: it is not sent again."""


class Adapter(Protocol):
    name: str
    upstream: str
    resubmit_safe: bool
    """The upstream is idempotent on our reference, so an interrupted attempt may simply be made again."""

    def ready(self) -> bool: ...
    def views(self) -> list[BindView]: ...
    async def submit(self, cmd: SubmitMessage, about_to_write: AboutToWrite) -> list[str]: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class SmppAdapter:
    name = "smpp"
    resubmit_safe = False

    def __init__(self, esme: Esme, submit_wait_s: float, response_timeout_s: float):
        self.esme = esme
        self.upstream = esme.target.upstream
        self.wait_s = submit_wait_s
        self.response_timeout_s = response_timeout_s

    def ready(self) -> bool:
        return self.esme.ready

    def views(self) -> list[BindView]:
        return self.esme.views()

    async def start(self) -> None:
        self.esme.start()

    async def stop(self) -> None:
        await self.esme.stop()

    async def submit(self, cmd: SubmitMessage, about_to_write: AboutToWrite) -> list[str]:
        t = self.esme.target
        pdus = model.submit_pdus(cmd.from_, cmd.to, cmd.text, model.concat_ref(cmd.message_id),
                                 source_ton=t.source_ton, source_npi=t.source_npi, sar=t.concat == "sar")
        ids: list[str] = []

        async def marker() -> None:
            if not ids:
                await about_to_write(len(pdus))

        started = time.perf_counter()
        try:
            ids = await self._parts(pdus, marker, ids)
        except Refused:
            CARRIER_SUBMIT.labels("refused").observe(time.perf_counter() - started)
            raise
        except (Unavailable, Unconfirmed):
            CARRIER_SUBMIT.labels("error").observe(time.perf_counter() - started)
            raise
        CARRIER_SUBMIT.labels("accepted").observe(time.perf_counter() - started)
        return ids

    async def _parts(self, pdus: list[pdu.Pdu], marker: Callable[[], Awaitable[None]], ids: list[str]) -> list[str]:
        deadline = time.monotonic() + self.wait_s
        for i, p in enumerate(pdus):
            if i:  # later parts may wait longer: the first ones are with the SMSC already
                deadline = time.monotonic() + self.wait_s + 3 * self.response_timeout_s
            try:
                resp = await self.esme.submit(p, deadline, marker)
            except EsmeUnavailable as exc:
                if not ids:
                    raise Unavailable(str(exc)) from exc
                raise Unconfirmed(f"part {i + 1} of {len(pdus)} could not be sent after the first {i} were taken:"
                                  f" {exc}") from exc
            except Lost as exc:
                raise Unconfirmed(f"part {i + 1} of {len(pdus)} was sent and not acknowledged: {exc}") from exc
            if resp.status != pdu.ESME_ROK or resp.command_id == pdu.GENERIC_NACK:
                name = pdu.status_name(resp.status)
                raise Refused(name, f"submit_sm refused: {name}" + (f" (part {i + 1} of {len(pdus)})" if i else ""),
                              parts_accepted=i)
            ids.append(resp.text("message_id"))
        return ids


class HttpAdapter:
    """The HTTP carrier API (``/carrier/v1/messages``), idempotent on our reference."""

    name = "http"
    resubmit_safe = True

    def __init__(self, carrier: HttpCarrier, upstream: str):
        self.carrier = carrier
        self.upstream = upstream

    def ready(self) -> bool:
        return True

    def views(self) -> list[BindView]:
        return [BindView(name="http", mode="http", state="bound")]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.carrier.close()

    async def submit(self, cmd: SubmitMessage, about_to_write: AboutToWrite) -> list[str]:
        await about_to_write(1)
        try:
            cid = await self.carrier.submit_message(cmd.from_, cmd.to, cmd.text, reference=cmd.message_id)
        except CarrierError as exc:
            if exc.transient:
                raise Unavailable(str(exc)) from exc
            body = exc.body if isinstance(exc.body, dict) else {}
            code = str(body.get("code") or body.get("error") or exc.status)
            raise Refused(code, f"the carrier refused the message: {code}") from exc
        return [cid]
