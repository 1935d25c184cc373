"""The SMPP 3.4 PDU codec: a 16-octet header (length, command id, status, sequence), the mandatory
parameters of each operation we speak, and TLVs. Decoding is forgiving where SMSCs are sloppy (an error
response without a body); encoding is strict."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

HEADER: Final = struct.Struct(">IIII")
MAX_PDU: Final = 64 * 1024 + 1024

# command ids
GENERIC_NACK: Final = 0x80000000
BIND_RECEIVER: Final = 0x00000001
BIND_TRANSMITTER: Final = 0x00000002
SUBMIT_SM: Final = 0x00000004
DELIVER_SM: Final = 0x00000005
UNBIND: Final = 0x00000006
BIND_TRANSCEIVER: Final = 0x00000009
OUTBIND: Final = 0x0000000B
ENQUIRE_LINK: Final = 0x00000015
RESP: Final = 0x80000000

NAMES: Final = {
    GENERIC_NACK: "generic_nack", BIND_RECEIVER: "bind_receiver", BIND_TRANSMITTER: "bind_transmitter",
    SUBMIT_SM: "submit_sm", DELIVER_SM: "deliver_sm", UNBIND: "unbind", BIND_TRANSCEIVER: "bind_transceiver",
    OUTBIND: "outbind", ENQUIRE_LINK: "enquire_link",
}

# command_status values we act on
ESME_ROK: Final = 0x00
ESME_RINVMSGLEN: Final = 0x01
ESME_RINVCMDLEN: Final = 0x02
ESME_RINVCMDID: Final = 0x03
ESME_RINVBNDSTS: Final = 0x04
ESME_RALYBND: Final = 0x05
ESME_RSYSERR: Final = 0x08
ESME_RINVSRCADR: Final = 0x0A
ESME_RINVDSTADR: Final = 0x0B
ESME_RBINDFAIL: Final = 0x0D
ESME_RINVPASWD: Final = 0x0E
ESME_RINVSYSID: Final = 0x0F
ESME_RMSGQFUL: Final = 0x14
ESME_RTHROTTLED: Final = 0x58
ESME_RUNKNOWNERR: Final = 0xFF

STATUS_NAMES: Final = {
    ESME_ROK: "ESME_ROK", ESME_RINVMSGLEN: "ESME_RINVMSGLEN", ESME_RINVCMDLEN: "ESME_RINVCMDLEN",
    ESME_RINVCMDID: "ESME_RINVCMDID", ESME_RINVBNDSTS: "ESME_RINVBNDSTS", ESME_RALYBND: "ESME_RALYBND",
    ESME_RSYSERR: "ESME_RSYSERR", ESME_RINVSRCADR: "ESME_RINVSRCADR", ESME_RINVDSTADR: "ESME_RINVDSTADR",
    ESME_RBINDFAIL: "ESME_RBINDFAIL", ESME_RINVPASWD: "ESME_RINVPASWD", ESME_RINVSYSID: "ESME_RINVSYSID",
    ESME_RMSGQFUL: "ESME_RMSGQFUL", ESME_RTHROTTLED: "ESME_RTHROTTLED", ESME_RUNKNOWNERR: "ESME_RUNKNOWNERR",
    0x45: "ESME_RSUBMITFAIL", 0x0C: "ESME_RINVMSGID", 0x33: "ESME_RINVNUMDESTS", 0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
}

# TLV tags
TAG_RECEIPTED_MESSAGE_ID: Final = 0x001E
TAG_MESSAGE_STATE: Final = 0x0427
TAG_NETWORK_ERROR_CODE: Final = 0x0423
TAG_SAR_MSG_REF_NUM: Final = 0x020C
TAG_SAR_TOTAL_SEGMENTS: Final = 0x020E
TAG_SAR_SEGMENT_SEQNUM: Final = 0x020F
TAG_MESSAGE_PAYLOAD: Final = 0x0424
TAG_SC_INTERFACE_VERSION: Final = 0x0210

# esm_class bits
ESM_UDHI: Final = 0x40
ESM_RECEIPT_MASK: Final = 0x3C
ESM_DELIVERY_RECEIPT: Final = 0x04

MESSAGE_STATES: Final = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                         7: "UNKNOWN", 8: "REJECTD"}

# mandatory body layouts: (name, kind) with kind "c" (C-octet string), "b" (1-octet int), "sm" (the
# sm_length octet and short_message)
_BIND = (("system_id", "c"), ("password", "c"), ("system_type", "c"), ("interface_version", "b"),
         ("addr_ton", "b"), ("addr_npi", "b"), ("address_range", "c"))
_SM = (("service_type", "c"), ("source_addr_ton", "b"), ("source_addr_npi", "b"), ("source_addr", "c"),
       ("dest_addr_ton", "b"), ("dest_addr_npi", "b"), ("destination_addr", "c"), ("esm_class", "b"),
       ("protocol_id", "b"), ("priority_flag", "b"), ("schedule_delivery_time", "c"), ("validity_period", "c"),
       ("registered_delivery", "b"), ("replace_if_present_flag", "b"), ("data_coding", "b"),
       ("sm_default_msg_id", "b"), ("short_message", "sm"))
LAYOUTS: Final[dict[int, tuple[tuple[str, str], ...]]] = {
    BIND_RECEIVER: _BIND, BIND_TRANSMITTER: _BIND, BIND_TRANSCEIVER: _BIND,
    BIND_RECEIVER | RESP: (("system_id", "c"),), BIND_TRANSMITTER | RESP: (("system_id", "c"),),
    BIND_TRANSCEIVER | RESP: (("system_id", "c"),),
    SUBMIT_SM: _SM, DELIVER_SM: _SM,
    SUBMIT_SM | RESP: (("message_id", "c"),), DELIVER_SM | RESP: (("message_id", "c"),),
    OUTBIND: (("system_id", "c"), ("password", "c")),
}
_WITH_TLVS: Final = frozenset({SUBMIT_SM, DELIVER_SM, BIND_RECEIVER | RESP, BIND_TRANSMITTER | RESP,
                               BIND_TRANSCEIVER | RESP})


class PduError(Exception):
    """A PDU that cannot be read; ``status`` is what a generic_nack answers with."""

    def __init__(self, message: str, status: int = ESME_RINVCMDLEN):
        super().__init__(message)
        self.status = status


@dataclass
class Pdu:
    command_id: int
    sequence: int = 0
    status: int = ESME_ROK
    params: dict[str, int | str | bytes] = field(default_factory=dict)
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        base = NAMES.get(self.command_id & ~RESP if self.command_id != GENERIC_NACK else GENERIC_NACK, "unknown")
        return base + ("_resp" if self.is_response and self.command_id != GENERIC_NACK else "")

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESP)

    def text(self, name: str) -> str:
        v = self.params.get(name, "")
        return v if isinstance(v, str) else ""

    def number(self, name: str) -> int:
        v = self.params.get(name, 0)
        return v if isinstance(v, int) else 0

    def octets(self, name: str) -> bytes:
        v = self.params.get(name, b"")
        return v if isinstance(v, bytes) else b""

    def response(self, status: int = ESME_ROK, **params: int | str | bytes) -> Pdu:
        return Pdu(self.command_id | RESP, self.sequence, status, dict(params))

    def addresses(self) -> tuple[str, str]:
        """(source, destination) of a submit_sm or deliver_sm as we write numbers: see :func:`e164`."""
        return (e164(self.text("source_addr"), self.number("source_addr_ton")),
                e164(self.text("destination_addr"), self.number("dest_addr_ton")))


def e164(addr: str, ton: int) -> str:
    """An address from a PDU as we write numbers: international ones (TON 1, or 11 digits and more) with '+'."""
    addr = addr.strip()
    if addr.isdigit() and (ton == 1 or len(addr) >= 11):
        return "+" + addr
    return addr


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:08X}")


def _cstring(value: str, name: str, limit: int = 65) -> bytes:
    raw = value.encode("latin-1")
    if b"\x00" in raw or len(raw) >= limit:
        raise ValueError(f"{name} is too long or holds a NUL")
    return raw + b"\x00"


def encode(p: Pdu) -> bytes:
    body = bytearray()
    layout = LAYOUTS.get(p.command_id, ())
    if not (p.is_response and p.status != ESME_ROK and not p.params):  # an error answer: header only
        for name, kind in layout:
            v = p.params.get(name)
            if kind == "c":
                body += _cstring(v if isinstance(v, str) else "", name, 256)
            elif kind == "b":
                body.append((v if isinstance(v, int) else 0) & 0xFF)
            else:
                sm = v if isinstance(v, bytes) else b""
                if len(sm) > 254:
                    raise ValueError("short_message over 254 octets: use message_payload")
                body.append(len(sm))
                body += sm
    for tag, value in p.tlvs.items():
        body += struct.pack(">HH", tag, len(value)) + value
    return HEADER.pack(16 + len(body), p.command_id, p.status, p.sequence) + bytes(body)


def decode(data: bytes) -> Pdu:
    """One whole PDU (header included)."""
    if len(data) < 16:
        raise PduError("PDU shorter than its header")
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError("command_length does not match the PDU")
    p = Pdu(command_id, sequence, status)
    pos, end = 16, len(data)
    for name, kind in LAYOUTS.get(command_id, ()):
        if pos >= end:
            break  # an error response may leave its body out
        if kind == "c":
            nul = data.find(b"\x00", pos, end)
            if nul < 0:
                raise PduError(f"{name} is not NUL-terminated")
            p.params[name] = data[pos:nul].decode("latin-1")
            pos = nul + 1
        elif kind == "b":
            p.params[name] = data[pos]
            pos += 1
        else:
            n = data[pos]
            pos += 1
            if pos + n > end:
                raise PduError("short_message runs past the PDU")
            p.params[name] = bytes(data[pos:pos + n])
            pos += n
    if command_id in _WITH_TLVS:
        while pos + 4 <= end:
            tag, n = struct.unpack_from(">HH", data, pos)
            pos += 4
            if pos + n > end:
                raise PduError("TLV runs past the PDU")
            p.tlvs[tag] = bytes(data[pos:pos + n])
            pos += n
    return p


def tlv_int(value: bytes | None) -> int | None:
    return int.from_bytes(value, "big") if value else None


def tlv_cstring(value: bytes | None) -> str | None:
    return value.rstrip(b"\x00").decode("latin-1") if value else None
