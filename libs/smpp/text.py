"""Short-message text: GSM 03.38 (data_coding 0, one septet per octet as SMPP carries it, with the
extension table behind ESC), UCS-2 big-endian (8; UTF-16, so a character outside the BMP is a surrogate
pair) and Latin-1 (3) or IA5 (1) for what arrives; splitting a long text into parts that never cut an
escape sequence or a surrogate pair (GSM-7 160 / 153 per part, UCS-2 70 / 67: the segments we charge);
the concatenation UDH (05 00 03 ref total seq, or the 16-bit reference form 06 08 04)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from libs.smpp import pdu

GSM_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION: Final = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                        "]": 0x3E, "|": 0x40, "€": 0x65}
_TO_GSM: Final = {ch: i for i, ch in enumerate(GSM_BASIC) if ch != "\x1b"}
_FROM_EXT: Final = {v: k for k, v in GSM_EXTENSION.items()}
ESC: Final = 0x1B

DC_DEFAULT: Final = 0x00
DC_IA5: Final = 0x01
DC_LATIN1: Final = 0x03
DC_UCS2: Final = 0x08

Encoding = Literal["GSM-7", "UCS-2"]


def is_gsm(text: str) -> bool:
    return all(ch in _TO_GSM or ch in GSM_EXTENSION for ch in text)


def encoding_of(text: str) -> Encoding:
    """One character outside GSM-7 (basic + extension) makes the whole message UCS-2 (outbound's rule)."""
    return "GSM-7" if is_gsm(text) else "UCS-2"


def _gsm_char(ch: str) -> bytes:
    if ch in _TO_GSM:
        return bytes((_TO_GSM[ch],))
    return bytes((ESC, GSM_EXTENSION[ch]))


def encode_gsm(text: str) -> bytes:
    """Unpacked septets (one per octet), extension characters as ESC + code."""
    return b"".join(_gsm_char(ch) for ch in text)


def decode_gsm(data: bytes) -> str:
    out: list[str] = []
    escaped = False
    for b in data:
        b &= 0x7F
        if escaped:
            out.append(_FROM_EXT.get(b, GSM_BASIC[b] if b != ESC else " "))
            escaped = False
        elif b == ESC:
            escaped = True
        else:
            out.append(GSM_BASIC[b])
    return "".join(out)


def encode_ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")


def decode(data: bytes, data_coding: int) -> str:
    """The text of a short message by its data_coding (the scheme's low bits where a class is set)."""
    dc = data_coding
    if dc in (DC_UCS2,) or (dc & 0xF0 in (0x10, 0xF0) and dc & 0x0C == 0x08) or dc == 0x18:
        return data.decode("utf-16-be", errors="replace")
    if dc == DC_LATIN1:
        return data.decode("latin-1")
    if dc == DC_IA5:
        return data.decode("ascii", errors="replace")
    return decode_gsm(data)


@dataclass(frozen=True)
class Part:
    """One part as it goes in a submit_sm: the encoded text (without UDH)."""

    payload: bytes


def split(text: str) -> tuple[Encoding, int, list[bytes]]:
    """(encoding, data_coding, parts' payloads): one part when it fits (160 septets / 70 UTF-16 units),
    else parts of at most 153 septets / 67 units, an escape pair or surrogate pair never cut."""
    enc = encoding_of(text)
    if enc == "GSM-7":
        units = [_gsm_char(ch) for ch in text]
        single, part, dc = 160, 153, DC_DEFAULT
    else:
        units = [ch.encode("utf-16-be") for ch in text]
        single, part, dc = 140, 134, DC_UCS2  # octets: 70 / 67 code units
    whole = b"".join(units)
    if len(whole) <= single:
        return enc, dc, [whole]
    parts: list[bytes] = []
    cur = bytearray()
    for u in units:
        if len(cur) + len(u) > part:
            parts.append(bytes(cur))
            cur = bytearray()
        cur += u
    parts.append(bytes(cur))
    return enc, dc, parts


def udh_concat(ref: int, total: int, seq: int) -> bytes:
    """The 8-bit-reference concatenation header: 05 00 03 ref total seq."""
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))


@dataclass(frozen=True)
class Concat:
    ref: int
    total: int
    seq: int


def strip_udh(data: bytes) -> tuple[Concat | None, bytes]:
    """Split a UDHI short message into its concatenation info (if any) and its text octets."""
    if not data:
        return None, data
    n = data[0]
    header, rest = data[1:1 + n], data[1 + n:]
    concat: Concat | None = None
    i = 0
    while i + 2 <= len(header):
        iei, ln = header[i], header[i + 1]
        v = header[i + 2:i + 2 + ln]
        if iei == 0x00 and ln == 3 and len(v) == 3:
            concat = Concat(v[0], v[1], v[2])
        elif iei == 0x08 and ln == 4 and len(v) == 4:
            concat = Concat((v[0] << 8) | v[1], v[2], v[3])
        i += 2 + ln
    return concat, rest


def message_of(p: pdu.Pdu) -> tuple[Concat | None, bytes]:
    """A submit_sm's or deliver_sm's text octets (``short_message``, else ``message_payload``) and, when
    it is one part of a longer text, which part: from its UDH (stripped from the octets) or its SAR TLVs."""
    raw = p.octets("short_message") or p.tlvs.get(pdu.TAG_MESSAGE_PAYLOAD, b"")
    concat: Concat | None = None
    if p.number("esm_class") & pdu.ESM_UDHI:
        concat, raw = strip_udh(raw)
    elif pdu.TAG_SAR_MSG_REF_NUM in p.tlvs:
        concat = Concat(pdu.tlv_int(p.tlvs.get(pdu.TAG_SAR_MSG_REF_NUM)) or 0,
                        pdu.tlv_int(p.tlvs.get(pdu.TAG_SAR_TOTAL_SEGMENTS)) or 1,
                        pdu.tlv_int(p.tlvs.get(pdu.TAG_SAR_SEGMENT_SEQNUM)) or 1)
    if concat is not None and concat.total <= 1:  # one part of one is the whole text
        concat = None
    return concat, raw
