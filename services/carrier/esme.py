"""Our SMPP 3.4 ESME: ``binds`` connections (each a transceiver, or a transmitter plus a receiver) to
one SMSC, each kept bound — connect, bind, ``enquire_link`` keepalive, reconnect with jittered backoff
and rebind — with a window of outstanding ``submit_sm`` and a TPS cap per bind. ``ESME_RTHROTTLED`` and
``ESME_RMSGQFUL`` pause the bind (doubling back-off) and the same PDU is sent again — the SMSC did not
take it. Credentials refused: one error log, the bind is ``refused`` (readiness fails) and retried
slowly. SIGTERM: ``unbind`` on every connection.

Whether a submit_sm left is told apart (see libs/smpp/session.py): ``Unavailable`` = nothing written
(safe to try again), ``Lost`` = written and no answer (the SMSC may have it)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from libs.backoff import backoff
from libs.obs.metrics import (
    SMPP_BIND_FAILURES,
    SMPP_BINDS_UP,
    SMPP_SUBMIT,
    SMPP_THROTTLED,
    SMPP_WINDOW_IN_USE,
)
from libs.smpp import pdu
from libs.smpp.session import LostAfterWrite, NotSent, Session
from proto.base import utcnow
from proto.commands.carrier import BindView
from services.carrier.config import SmppTarget, Timing

log = structlog.get_logger(__name__)

BINDS_UP = SMPP_BINDS_UP
WINDOW_IN_USE = SMPP_WINDOW_IN_USE
SUBMIT_SECONDS = SMPP_SUBMIT
THROTTLED = SMPP_THROTTLED
BIND_FAILURES = SMPP_BIND_FAILURES

REFUSED_CREDENTIALS = frozenset({pdu.ESME_RINVPASWD, pdu.ESME_RINVSYSID, pdu.ESME_RBINDFAIL})
BACK_OFF = frozenset({pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL})


class Unavailable(Exception):
    """Nothing was sent: no bound connection, no window slot in time, or throttled past the wait."""


class Lost(Exception):
    """The submit_sm was written and no answer came (connection lost or response timeout)."""


DeliverHandler = Callable[[pdu.Pdu, Session], Awaitable[int]]
"""Handles a deliver_sm (receipt or inbound text) that came on a session and answers the command status of
its deliver_sm_resp: OK only once it is recorded."""

_BIND_IDS = {"trx": pdu.BIND_TRANSCEIVER, "tx": pdu.BIND_TRANSMITTER, "rx": pdu.BIND_RECEIVER}


class Bind:
    """One SMPP connection, kept bound until stopped."""

    def __init__(self, name: str, mode: str, target: SmppTarget, timing: Timing, on_deliver: DeliverHandler,
                 changed: Callable[[], None]):
        self.name = name
        self.mode = mode
        self.t = target
        self.timing = timing
        self.on_deliver = on_deliver
        self.changed = changed
        self.state = "down"
        self.error = ""
        self.bound_since: datetime | None = None
        self.session: Session | None = None
        self.window = asyncio.Semaphore(target.window)
        self.in_window = 0
        self._next_slot = 0.0
        self.paused_until = 0.0
        self._backoff = timing.throttle_backoff_s
        self._stopping = False
        self._refused_logged = False
        BINDS_UP.labels(mode).inc(0)  # the series exists from the start: "no bind ever came up" alerts too

    @property
    def can_submit(self) -> bool:
        return (self.mode in ("trx", "tx") and self.state == "bound" and self.session is not None
                and not self._stopping)

    def view(self) -> BindView:
        return BindView(name=self.name, mode=self.mode, state=self.state, outstanding=self.in_window,
                        window=self.t.window, tps=self.t.tps, error=self.error, bound_since=self.bound_since)

    def _set(self, state: str, error: str = "") -> None:
        if self.state == "bound" and state != "bound":
            BINDS_UP.labels(self.mode).dec()
        elif state == "bound" and self.state != "bound":
            BINDS_UP.labels(self.mode).inc()
        self.state, self.error = state, error
        self.bound_since = utcnow() if state == "bound" else None
        self.changed()

    # -- the connection's life ------------------------------------------------------------------------
    async def run(self) -> None:
        failures, t = 0, self.timing
        while not self._stopping:
            outcome = await self._once()
            if self._stopping:
                return
            if outcome == "refused":
                await asyncio.sleep(self.timing.refused_retry_s)
                continue
            failures = 1 if outcome == "served" else failures + 1  # it was bound: come back quickly
            await asyncio.sleep(backoff(failures, t.reconnect_base_s, t.reconnect_cap_s, random.random()))

    async def _once(self) -> str:
        self._set("connecting", self.error)
        try:
            ctx = ssl.create_default_context(cafile=self.t.ca or None) if self.t.tls else None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.t.host, self.t.port, ssl=ctx, limit=pdu.MAX_PDU),
                self.timing.response_timeout_s)
        except (OSError, TimeoutError) as exc:
            BIND_FAILURES.labels("connect").inc()
            self._set("down", f"connect failed: {exc!r}")
            log.warning("smpp_connect_failed", bind=self.name, upstream=self.t.upstream, error=repr(exc))
            return "failed"
        session = Session(reader, writer, self._on_request, self.name)
        reading = asyncio.create_task(session.run())
        try:
            resp = await session.request(pdu.Pdu(_BIND_IDS[self.mode], params={
                "system_id": self.t.system_id, "password": self.t.password, "system_type": self.t.system_type,
                "interface_version": 0x34, "addr_ton": 0, "addr_npi": 0, "address_range": ""}),
                self.timing.response_timeout_s)
        except (NotSent, LostAfterWrite) as exc:
            BIND_FAILURES.labels("no_answer").inc()
            self._set("down", f"bind not answered: {exc}")
            log.warning("smpp_bind_unanswered", bind=self.name, upstream=self.t.upstream, error=str(exc))
            await session.close()
            reading.cancel()
            return "failed"
        if resp.status != pdu.ESME_ROK or resp.command_id == pdu.GENERIC_NACK:
            await session.close()
            reading.cancel()
            return self._not_bound(resp)
        self._refused_logged = False
        self.session = session
        self._set("bound")
        log.info("smpp_bound", bind=self.name, mode=self.mode, upstream=self.t.upstream,
                 smsc=resp.text("system_id"))
        keepalive = asyncio.create_task(self._keepalive(session))
        try:
            await session.closed.wait()
        finally:
            keepalive.cancel()
            self.session = None
            if not self._stopping:
                self._set("down", "connection lost")
                log.warning("smpp_connection_lost", bind=self.name, upstream=self.t.upstream)
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
        return "served"

    def _not_bound(self, resp: pdu.Pdu) -> str:
        """The SMSC answered the bind with an error: ``refused`` (credentials, retried slowly) or ``failed``."""
        name = pdu.status_name(resp.status)
        if resp.status in REFUSED_CREDENTIALS:
            BIND_FAILURES.labels("refused").inc()
            self._set("refused", f"bind refused: {name}")
            if not self._refused_logged:  # one clear error, not one per retry
                self._refused_logged = True
                log.error("smpp_bind_refused", bind=self.name, upstream=self.t.upstream,
                          system_id=self.t.system_id, status=name,
                          hint="check the system_id and password of AM_SMPP_URL")
            return "refused"
        BIND_FAILURES.labels("error").inc()
        self._set("down", f"bind failed: {name}")
        log.warning("smpp_bind_failed", bind=self.name, upstream=self.t.upstream, status=name)
        return "failed"

    async def _keepalive(self, session: Session) -> None:
        while not session.closed.is_set():
            await asyncio.sleep(self.t.enquire_link_s)
            if time.monotonic() - session.last_read < self.t.enquire_link_s / 2:
                continue  # traffic proves the link
            try:
                await session.request(pdu.Pdu(pdu.ENQUIRE_LINK), self.timing.response_timeout_s)
            except (NotSent, LostAfterWrite):
                log.warning("smpp_enquire_link_unanswered", bind=self.name)
                await session.close()
                return

    async def _on_request(self, session: Session, p: pdu.Pdu) -> pdu.Pdu | None:
        if p.command_id == pdu.ENQUIRE_LINK:
            return p.response()
        if p.command_id == pdu.DELIVER_SM:
            status = await self.on_deliver(p, session)
            return p.response(status, message_id="")
        if p.command_id == pdu.UNBIND:  # the SMSC closes the session: answer, then reconnect
            log.info("smpp_unbound_by_smsc", bind=self.name)
            session.respond(p.response())
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(session.close()))
            return None
        return pdu.Pdu(pdu.GENERIC_NACK, p.sequence, pdu.ESME_RINVCMDID)

    # -- submitting -----------------------------------------------------------------------------------
    async def _tps_slot(self) -> None:
        if self.t.tps <= 0:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self.t.tps
        if slot > now:
            await asyncio.sleep(slot - now)

    async def submit(self, p: pdu.Pdu, deadline: float, about_to_write: Callable[[], Awaitable[None]]) -> pdu.Pdu:
        """One submit_sm on this bind: window, TPS, throttling back-off; raises Unavailable or Lost.

        ``about_to_write`` (the attempt's marker, committed before the PDU can leave) runs inside the window
        slot, once the bind is ready to write: a submission still waiting for a slot, a throttling pause or
        the TPS cap has no marker, so a crash then leaves it free to be sent by the next attempt. Before
        the slot, a crash would leave every waiting submission marked, each recorded unconfirmed (and
        failed for good) by its retry though nothing left; the round trip in the slot is the price."""
        remaining = deadline - time.monotonic()
        try:
            await asyncio.wait_for(self.window.acquire(), max(0.001, remaining))
        except TimeoutError:
            raise Unavailable(f"window of {self.t.window} full on {self.name}") from None
        self.in_window += 1
        WINDOW_IN_USE.inc()
        try:
            while True:
                wait = self.paused_until - time.monotonic()
                if wait > 0:
                    if time.monotonic() + wait > deadline:
                        raise Unavailable(f"{self.name} throttled by the SMSC")
                    await asyncio.sleep(wait)
                await self._tps_slot()
                session = self.session
                if session is None or self.state != "bound" or self._stopping:
                    raise Unavailable(f"{self.name} is not bound")
                await about_to_write()
                started = time.monotonic()
                try:
                    resp = await session.request(pdu.Pdu(pdu.SUBMIT_SM, params=dict(p.params), tlvs=dict(p.tlvs)),
                                                 self.timing.response_timeout_s)
                except NotSent as exc:
                    raise Unavailable(str(exc)) from exc
                except LostAfterWrite as exc:
                    if not session.closed.is_set():  # no answer on a live connection: it is not healthy
                        await session.close()
                    raise Lost(str(exc)) from exc
                SUBMIT_SECONDS.observe(time.monotonic() - started)
                if resp.status in BACK_OFF:
                    THROTTLED.labels(pdu.status_name(resp.status)).inc()
                    self.paused_until = time.monotonic() + self._backoff
                    log.info("smpp_throttled", bind=self.name, status=pdu.status_name(resp.status),
                             pause_s=self._backoff)
                    self._backoff = min(self._backoff * 2, 10.0)
                    continue  # not taken: the same PDU again once the pause is over
                self._backoff = self.timing.throttle_backoff_s
                return resp
        finally:
            self.in_window -= 1
            WINDOW_IN_USE.dec()
            self.window.release()

    async def stop(self, drain_s: float = 3.0) -> None:
        """No new submit_sm; those awaiting their answer get it (at most ``drain_s``); then unbind."""
        self._stopping = True
        deadline = time.monotonic() + drain_s
        while self.in_window and self.session is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        session = self.session
        if session is not None and not session.closed.is_set():
            with contextlib.suppress(NotSent, LostAfterWrite):
                await session.request(pdu.Pdu(pdu.UNBIND), min(2.0, self.timing.response_timeout_s))
            await session.close()
            log.info("smpp_unbound", bind=self.name)
        if self.state == "bound":
            self._set("down", "stopped")


class Esme:
    """Every bind to one SMSC; a submit_sm goes to the bound transmitting bind with the most room."""

    def __init__(self, target: SmppTarget, timing: Timing, on_deliver: DeliverHandler):
        self.target = target
        self._changed = asyncio.Event()
        self.binds: list[Bind] = []
        for i in range(target.binds):
            modes = ("trx",) if target.bind == "trx" else ("tx", "rx")
            for m in modes:
                self.binds.append(Bind(f"{m}{i + 1}", m, target, timing, on_deliver, self._changed.set))
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(b.run(), name=f"smpp-{b.name}") for b in self.binds]

    @property
    def ready(self) -> bool:
        return any(b.can_submit for b in self.binds) and any(b.mode in ("trx", "rx") and b.state == "bound"
                                                            for b in self.binds)

    def views(self) -> list[BindView]:
        return [b.view() for b in self.binds]

    async def _pick(self, deadline: float) -> Bind:
        while True:
            ready = [b for b in self.binds if b.can_submit]
            if ready:
                now = time.monotonic()
                return min(ready, key=lambda b: (b.paused_until > now, b.in_window))
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                states = ", ".join(f"{b.name}: {b.state}" for b in self.binds)
                raise Unavailable(f"no bound SMPP connection ({states})")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def submit(self, p: pdu.Pdu, deadline: float, about_to_write: Callable[[], Awaitable[None]]) -> pdu.Pdu:
        while True:
            bind = await self._pick(deadline)
            try:
                return await bind.submit(p, deadline, about_to_write)
            except Unavailable:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.01)  # another bind may have room

    async def stop(self) -> None:
        await asyncio.gather(*(b.stop() for b in self.binds), return_exceptions=True)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
