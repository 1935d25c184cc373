"""SMS segments and encoding: what a carrier bills. Pure; shared by outbound (pricing) and the gateway
(a key's spend cap is checked before the send)."""

from __future__ import annotations

from typing import Literal

# --------------------------------------------------------------------------------------
# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one septet: two).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_TEXT_CHARS = 1600
TEXTS_PER_REQUEST = 64
"""Texts one NATS request carries at most (a batch of final checks, of carrier submissions): 64 of the
longest, 1,600 characters of up to 4 octets each, stay well inside NATS's 1 MB message."""

Encoding = Literal["GSM-7", "UCS-2"]


def encoding_of(text: str) -> Encoding:
    """One character outside GSM-7 (basic + extension) makes the whole message UCS-2."""
    return "GSM-7" if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text) else "UCS-2"


def _units(text: str, encoding: Encoding) -> list[int]:
    """Per character, the units it takes: septets for GSM-7 (an extension character is an escape plus
    a septet), UTF-16 code units for UCS-2 (an emoji outside the BMP is a surrogate pair)."""
    if encoding == "GSM-7":
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> tuple[int, Encoding]:
    """Segments a carrier bills: GSM-7 160 / 153 per part, UCS-2 70 / 67 per part; a part never splits
    an escape sequence or a surrogate pair."""
    enc = encoding_of(text)
    units = _units(text, enc)
    single, part = (GSM_SINGLE, GSM_PART) if enc == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    if sum(units) <= single:
        return (1, enc)
    segments, used = 1, 0
    for u in units:
        if used + u > part:
            segments += 1
            used = 0
        used += u
    return (segments, enc)


