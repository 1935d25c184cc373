"""The simulator's SMSC: SMPP 3.4 on its own port (AM_SIM_SMPP_PORT), spoken to exactly as a carrier's.
ESMEs bind (transceiver, transmitter or receiver) with AM_SIM_SMPP_SYSTEM_ID / AM_SIM_SMPP_PASSWORD;
submit_sm parts are acknowledged with an id each and, once every part of a text is in, the text goes to
the handset like an HTTP submission (same outcomes per handset); each part's delivery receipt comes back
as a deliver_sm (esm_class 0x04, the standard text plus receipted_message_id / message_state TLVs).
Texts from handsets (POST /sim/messages) go to a bound receiver as deliver_sm (GSM-7 or UCS-2, in parts
with a UDH when long), queued while none is bound. At most ``window`` deliver_sm (AM_SIM_SMPP_WINDOW) await
their response at once; the rest wait in the queue."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from libs.smpp import pdu, receipt, text
from libs.smpp.session import LostAfterWrite, NotSent, Session

if TYPE_CHECKING:
    from .world import MessageRequest, World

log = structlog.get_logger("carrier_sim")

_STATES = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}
_BINDS = {pdu.BIND_TRANSCEIVER: "trx", pdu.BIND_TRANSMITTER: "tx", pdu.BIND_RECEIVER: "rx"}


def from_e164(number: str) -> tuple[str, int]:
    """An address and its TON: international (1) for +E.164, network-specific (3) for a short code,
    alphanumeric (5) for a sender id."""
    if number.startswith("+"):
        return number[1:], 1
    return number, 3 if number.isdigit() else 5


class Smsc:
    def __init__(self, world: World, system_id: str, password: str, window: int = 100):
        self.world = world
        self.system_id = system_id
        self.password = password
        self.window = window
        """deliver_sm awaiting their response at once (each flusher has one out); the rest wait in backlog"""
        self.flushers = 0
        self.sessions: dict[Session, str] = {}
        self.backlog: collections.deque[pdu.Pdu] = collections.deque()
        self.parts: dict[tuple[str, str, int, int], dict[int, tuple[str, str]]] = {}
        self.server: asyncio.base_events.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections: dict[Session, asyncio.Task[Any]] = {}
        """Every connection, bound or not, with the task serving it (closed and awaited by ``close``)."""

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, limit=pdu.MAX_PDU)
        bound = int(self.server.sockets[0].getsockname()[1])
        log.info("smsc_listening", host=host, port=bound)
        return bound

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for s in list(self.sessions):
            with contextlib.suppress(NotSent, LostAfterWrite):
                await s.request(pdu.Pdu(pdu.UNBIND), 1.0)
            await s.close()
        for t in list(self.tasks):
            t.cancel()
        # the connections still open (an ESME that never bound, one bound meanwhile): closed, and their
        # tasks left to end — a task still running at the loop's end is cancelled, and Python 3.11's
        # start_server logs that cancellation as an error with a traceback
        serving = list(self.connections.values())
        for s in list(self.connections):
            await s.close()
        if serving:
            await asyncio.wait(serving, timeout=5)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(reader, writer, self._on_request, "smsc")
        task = asyncio.current_task()
        if task is not None:
            self.connections[session] = task
        try:
            await session.run()
        finally:
            self.sessions.pop(session, None)
            self.connections.pop(session, None)

    def _receivers(self) -> list[Session]:
        return [s for s, mode in self.sessions.items() if mode in ("trx", "rx") and not s.closed.is_set()]

    async def _on_request(self, session: Session, p: pdu.Pdu) -> pdu.Pdu | None:
        if p.command_id in _BINDS:
            if session in self.sessions:
                return p.response(pdu.ESME_RALYBND)
            if p.text("system_id") != self.system_id:
                log.info("smsc_bind_refused", system_id=p.text("system_id"), reason="system_id")
                return p.response(pdu.ESME_RINVSYSID)
            if p.text("password") != self.password:
                log.info("smsc_bind_refused", system_id=p.text("system_id"), reason="password")
                return p.response(pdu.ESME_RINVPASWD)
            self.sessions[session] = _BINDS[p.command_id]
            log.info("smsc_bound", mode=_BINDS[p.command_id])
            if _BINDS[p.command_id] != "tx":
                self._kick()
            return p.response(system_id="agentmessage-sim")
        if session not in self.sessions:
            return p.response(pdu.ESME_RINVBNDSTS) if p.command_id in pdu.NAMES else None
        if p.command_id == pdu.ENQUIRE_LINK:
            return p.response()
        if p.command_id == pdu.UNBIND:
            self.sessions.pop(session, None)
            session.respond(p.response())
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(session.close()))
            return None
        if p.command_id == pdu.SUBMIT_SM:
            if self.sessions.get(session) == "rx":
                return p.response(pdu.ESME_RINVBNDSTS)
            return self._submit(p)
        return pdu.Pdu(pdu.GENERIC_NACK, p.sequence, pdu.ESME_RINVCMDID)

    # -- MT ---------------------------------------------------------------------------------------------
    def _submit(self, p: pdu.Pdu) -> pdu.Pdu:
        from .world import Handset, MessageRequest

        world = self.world
        src, dst = p.addresses()
        if src not in world.state.assignments:
            return p.response(pdu.ESME_RINVSRCADR)
        if not dst.startswith("+") or not dst[1:].isdigit():
            return p.response(pdu.ESME_RINVDSTADR)
        handset = world.handsets.get(dst, Handset())
        if handset.outcome == "rejected":
            return p.response(0x45)  # ESME_RSUBMITFAIL
        concat, raw = text.message_of(p)
        body = text.decode(raw, p.number("data_coding"))
        cid = f"sim-{uuid.uuid4()}"
        if concat is None:
            world.submit_mt(cid, MessageRequest(from_=src, to=dst, text=body, via="smpp", parts=[cid]), handset)
        else:
            key = (src, dst, concat.ref, concat.total)
            group = self.parts.setdefault(key, {})
            group[concat.seq] = (cid, body)
            if len(group) == concat.total:
                del self.parts[key]
                ordered = [group[i] for i in sorted(group)]
                world.submit_mt(ordered[0][0], MessageRequest(
                    from_=src, to=dst, text="".join(b for _, b in ordered), via="smpp",
                    parts=[c for c, _ in ordered]), handset)
        log.info("smsc_submit_sm", carrier_message_id=cid, part=concat.seq if concat else 1,
                 parts=concat.total if concat else 1)
        return p.response(message_id=cid)

    def receipts(self, msg: MessageRequest, status: str, error_code: str | None, accepted_at: str,
                 copies: int = 1) -> None:
        """One receipt per part of an SMPP-submitted text."""
        submitted = _parse(accepted_at)
        err = "000" if status == "DELIVRD" else "001"
        for part_id in msg.parts:
            body = receipt.format_text(part_id, status, err, submitted, datetime.now(UTC), msg.text)
            src, ston = from_e164(msg.to)
            dst, dton = from_e164(msg.from_)
            for _ in range(copies):
                self._push(pdu.Pdu(pdu.DELIVER_SM, params=_sm(src, ston, dst, dton, pdu.ESM_DELIVERY_RECEIPT, 0,
                                                              body.encode("latin-1", "replace")),
                                   tlvs={pdu.TAG_RECEIPTED_MESSAGE_ID: part_id.encode() + b"\x00",
                                         pdu.TAG_MESSAGE_STATE: bytes((_STATES.get(status, 7),))}))
        _ = error_code

    # -- MO ---------------------------------------------------------------------------------------------
    def deliver_mo(self, payload: dict[str, Any]) -> None:
        """A handset's text to a number, as deliver_sm (in parts when long)."""
        _, dc, parts = text.split(str(payload.get("text", "")))
        src, ston = from_e164(str(payload["from"]))
        dst, dton = from_e164(str(payload["to"]))
        ref = uuid.uuid4().int & 0xFF
        for i, part in enumerate(parts, start=1):
            esm, sm = 0, part
            if len(parts) > 1:
                esm, sm = pdu.ESM_UDHI, text.udh_concat(ref, len(parts), i) + part
            self._push(pdu.Pdu(pdu.DELIVER_SM, params=_sm(src, ston, dst, dton, esm, dc, sm)))

    def _push(self, p: pdu.Pdu) -> None:
        self.backlog.append(p)
        self._kick()

    def _kick(self) -> None:
        """Flushers for the backlog, at most ``window`` of them (one deliver_sm out each)."""
        for _ in range(min(len(self.backlog), self.window - self.flushers)):
            self.flushers += 1
            self._spawn(self._flush_backlog())

    async def _flush_backlog(self) -> None:
        try:
            while self.backlog:
                receivers = self._receivers()
                if not receivers:
                    return  # the next bind starts flushing again
                p = self.backlog.popleft()
                session = min(receivers, key=lambda s: s.outstanding)
                try:
                    resp = await session.request(pdu.Pdu(p.command_id, params=dict(p.params), tlvs=dict(p.tlvs)),
                                                 10.0)
                    if resp.status != pdu.ESME_ROK:
                        raise LostAfterWrite(pdu.status_name(resp.status))
                except (NotSent, LostAfterWrite) as exc:
                    log.info("smsc_deliver_sm_retry", error=str(exc))
                    self.backlog.appendleft(p)  # at least once: again on this or the next bind
                    await asyncio.sleep(0.2)
        finally:
            self.flushers -= 1


def _sm(src: str, ston: int, dst: str, dton: int, esm: int, dc: int, sm: bytes) -> dict[str, int | str | bytes]:
    return {"service_type": "", "source_addr_ton": ston, "source_addr_npi": 1, "source_addr": src,
            "dest_addr_ton": dton, "dest_addr_npi": 1, "destination_addr": dst, "esm_class": esm, "protocol_id": 0,
            "priority_flag": 0, "schedule_delivery_time": "", "validity_period": "", "registered_delivery": 0,
            "replace_if_present_flag": 0, "data_coding": dc, "sm_default_msg_id": 0, "short_message": sm}


def _parse(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
