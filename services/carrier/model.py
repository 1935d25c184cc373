"""Pure rules of the carrier service: a message as submit_sm PDUs (parts with a concatenation UDH), what
the receipts of a message's parts say about the message, and what an inbound deliver_sm is (receipt or
text, its repeat key, its concatenation group). No I/O."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime

from libs.smpp import pdu, receipt, text
from proto.base import parse_rfc3339

REGISTERED_DELIVERY_FINAL = 0x01
"""Ask for a receipt on the final outcome (success or failure)."""


def submit_pdus(src: str, dst: str, body: str, ref: int, *, source_ton: int = 1, source_npi: int = 1,
                sar: bool = False) -> list[pdu.Pdu]:
    """The submit_sm of each part: one when the text fits, else one per segment with a UDH
    (05 00 03 ref total seq) and esm_class 0x40 — or, with ``sar``, the sar_msg_ref_num /
    sar_total_segments / sar_segment_seqnum TLVs and no UDH. The number of parts is the segments outbound
    charged (SAR parts are cut at the same 153 / 67 as UDH ones)."""
    _, dc, parts = text.split(body)
    pdus: list[pdu.Pdu] = []
    total = len(parts)
    for i, payload in enumerate(parts, start=1):
        esm = 0
        sm = payload
        tlvs: dict[int, bytes] = {}
        if total > 1 and sar:
            tlvs = {pdu.TAG_SAR_MSG_REF_NUM: ref.to_bytes(2, "big"), pdu.TAG_SAR_TOTAL_SEGMENTS: bytes((total,)),
                    pdu.TAG_SAR_SEGMENT_SEQNUM: bytes((i,))}
        elif total > 1:
            esm = pdu.ESM_UDHI
            sm = text.udh_concat(ref, total, i) + payload
        pdus.append(pdu.Pdu(pdu.SUBMIT_SM, params={
            "service_type": "", "source_addr_ton": source_ton, "source_addr_npi": source_npi,
            "source_addr": _address(src, source_ton), "dest_addr_ton": 1, "dest_addr_npi": 1,
            "destination_addr": _address(dst, 1), "esm_class": esm, "protocol_id": 0, "priority_flag": 0,
            "schedule_delivery_time": "", "validity_period": "", "registered_delivery": REGISTERED_DELIVERY_FINAL,
            "replace_if_present_flag": 0, "data_coding": dc, "sm_default_msg_id": 0, "short_message": sm},
            tlvs=tlvs))
    return pdus


def _address(e164: str, ton: int) -> str:
    """International numbers go without their '+' (TON 1 says they are international)."""
    return e164[1:] if ton == 1 and e164.startswith("+") else e164


def concat_ref(message_id: str) -> int:
    """The 8-bit concatenation reference of a message (stable for its id, so a resubmission over HTTP or
    a look at the PDUs shows the same one)."""
    return int(hashlib.sha256(message_id.encode()).hexdigest()[:2], 16)


# -- receipts ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PartReceipt:
    part: int
    stat: str | None
    err: str = ""
    done_at: str = ""


@dataclass(frozen=True)
class MessageReceipt:
    carrier_message_id: str
    stat: str
    outcome: str
    err: str
    done_at: str


def message_receipt(parts: int, receipts: list[PartReceipt], ids: dict[int, str]) -> MessageReceipt | None:
    """What the receipts so far say about the whole message: the first part that did not arrive (a final
    state other than DELIVRD) decides at once; DELIVRD once every part says so; else nothing yet."""
    by_part = {r.part: r for r in receipts if r.stat}
    for p in sorted(by_part):
        r = by_part[p]
        assert r.stat is not None
        if receipt.outcome(r.stat) == "undelivered":
            return MessageReceipt(ids.get(p, ""), r.stat, "undelivered", r.err, r.done_at)
    delivered = [by_part[p] for p in sorted(by_part) if receipt.outcome(by_part[p].stat or "") == "delivered"]
    if len(delivered) == parts and parts > 0:
        last = delivered[-1]
        return MessageReceipt(ids.get(1, ""), "DELIVRD", "delivered", "", last.done_at)
    return None


# -- inbound -------------------------------------------------------------------------------------------
def carrier_time(raw: str | None) -> datetime | None:
    """A time the carrier gave as text (a receipt's done date, an MO's receive time), or None when it gave
    none it could read: the carrier's text becomes a time here, once, before it goes on an event."""
    return parse_rfc3339(raw) if raw else None


def is_receipt(p: pdu.Pdu) -> bool:
    return bool(p.number("esm_class") & pdu.ESM_RECEIPT_MASK) or pdu.TAG_RECEIPTED_MESSAGE_ID in p.tlvs


@dataclass(frozen=True)
class InboundPart:
    source: str
    destination: str
    data_coding: int
    body: str
    concat: text.Concat | None
    key: str
    """Same for a repeat of this PDU: its source, destination, coding, octets and concatenation."""

    @property
    def group_key(self) -> str:
        assert self.concat is not None
        return f"{self.source}|{self.destination}|{self.concat.ref}|{self.concat.total}"


@dataclass
class RecentMo:
    """A whole inbound text that came over SMPP: on which session (its ``closed`` event), when, and whether
    it was answered (deliver_sm_resp OK) in time for any SMSC's response timeout."""

    closed: asyncio.Event
    arrived: float
    answered_in_time: bool | None = None
    """None while it is still being recorded."""

    def resend_possible(self, now: float, in_time_s: float) -> bool:
        """Could the SMSC be sending this PDU again? Not while the session it came on is open and it was
        answered in time (the SMSC has the answer), or is still being answered and came less than
        ``in_time_s`` ago (the SMSC is still waiting for the answer): the same PDU then is a new text."""
        if self.closed.is_set():
            return True
        if self.answered_in_time is None:
            return now - self.arrived > in_time_s
        return not self.answered_in_time


def inbound_part(p: pdu.Pdu) -> InboundPart:
    """An inbound text (or one part of it) from a deliver_sm: UDH or SAR TLVs read, text decoded."""
    concat, raw = text.message_of(p)
    dc = p.number("data_coding")
    src, dst = p.addresses()
    c = f"{concat.ref}/{concat.total}/{concat.seq}" if concat else "-"
    key = hashlib.sha256(f"{src}|{dst}|{dc}|{c}|".encode() + raw).hexdigest()
    return InboundPart(src, dst, dc, text.decode(raw, dc), concat, key)


def assemble(parts: dict[int, str], total: int) -> tuple[str, bool]:
    """The parts in order; a missing part leaves a gap marked '[…]'. Answers (text, complete)."""
    out = [parts.get(i, "[…]") for i in range(1, total + 1)]
    return "".join(out), all(i in parts for i in range(1, total + 1))
