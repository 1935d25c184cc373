"""Delivery receipts: the de-facto standard text of a deliver_sm with the receipt flag
(``id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:… text:…``, SMPP 3.4 appendix B) and
the ``receipted_message_id`` / ``message_state`` / ``network_error_code`` TLVs, which win when present."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.smpp import pdu

_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err|text):\s*(.*?)(?=\s+(?:id|sub|dlvrd|submit date|"
                    r"done date|stat|err|text):|$)", re.IGNORECASE | re.DOTALL)
FINAL_STATES = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"})


@dataclass(frozen=True)
class Receipt:
    message_id: str
    stat: str
    """DELIVRD | EXPIRED | DELETED | UNDELIV | ACCEPTD | UNKNOWN | REJECTD | ENROUTE"""
    err: str = ""
    done_at: str = ""
    """RFC 3339 when the receipt says when (``done date`` YYMMDDhhmm[ss]); else empty."""

    @property
    def final(self) -> bool:
        return self.stat in FINAL_STATES


def outcome(stat: str) -> str | None:
    """delivered | undelivered for a final state; None for ACCEPTD / ENROUTE (intermediate)."""
    s = stat.strip().upper()
    if s == "DELIVRD":
        return "delivered"
    if s in FINAL_STATES:
        return "undelivered"
    return None


def _done(raw: str) -> str:
    raw = raw.strip()
    if not raw.isdigit() or len(raw) not in (10, 12):
        return ""
    for fmt in (("%y%m%d%H%M",) if len(raw) == 10 else ("%y%m%d%H%M%S",)):
        try:
            ts = datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return ""


def parse(p: pdu.Pdu, text: str) -> Receipt | None:
    """The receipt a deliver_sm carries, or None when it is not one we can match."""
    fields = {k.lower(): v.strip() for k, v in _FIELD.findall(text)}
    mid = pdu.tlv_cstring(p.tlvs.get(pdu.TAG_RECEIPTED_MESSAGE_ID)) or fields.get("id", "")
    state = pdu.tlv_int(p.tlvs.get(pdu.TAG_MESSAGE_STATE))
    stat = pdu.MESSAGE_STATES.get(state, "") if state is not None else ""
    stat = (stat or fields.get("stat", "")).upper()
    if not mid or not stat:
        return None
    err = fields.get("err", "")
    net = p.tlvs.get(pdu.TAG_NETWORK_ERROR_CODE)
    if net and len(net) == 3 and not err.strip("0"):
        err = str(int.from_bytes(net[1:], "big"))
    return Receipt(message_id=mid, stat=stat, err="" if err.strip("0") == "" else err,
                   done_at=_done(fields.get("done date", "")))


def format_text(message_id: str, stat: str, err: str = "000", submitted: datetime | None = None,
                done: datetime | None = None, text: str = "") -> str:
    """The receipt text an SMSC sends (the simulator's SMSC uses it)."""
    now = datetime.now(UTC)
    sd = (submitted or now).strftime("%y%m%d%H%M")
    dd = (done or now).strftime("%y%m%d%H%M")
    dlvrd = "001" if stat == "DELIVRD" else "000"
    return (f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{sd} done date:{dd} stat:{stat} err:{err} "
            f"text:{text[:20]}")
