"""Finding a one-time code (a verification or sign-in code) in the text of an SMS. Pure.

A code is 4-8 characters: digits ("Your code is 1234"), letters and digits ("AB12CD"), a prefixed code
("G-123456" gives 123456, what one types) or a split one ("123-456" gives 123456). It counts when a
code word is near it ("code", "código", "OTP", "PIN", "passcode", "verification", "sign in", ...), or
when it is the whole message. URLs, phone numbers, dates, times and amounts are never codes, and a
code next to a URL is still found.
"""

from __future__ import annotations

import re

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9.-]+\.(?:com|net|org|io|co|app|dev|me|ly)(?:/\S*)?\b")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{8,}\d(?![\w-])")
_DATE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?", re.I)
_AMOUNT = re.compile(r"[$€£¥₹]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:%|usd|eur|gbp|dollars?|euros?|pesos?)\b"
                     r"|\b\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?\b|\b\d+[.,]\d+\b", re.I)
_PREFIXED = re.compile(r"(?<![\w-])[A-Z]{1,4}-(\d{4,8})\b")
_SPLIT = re.compile(r"(?<![\w-])(\d{3})[- ](\d{3})(?![\w-])")
_TOKEN = re.compile(r"(?<![\w-])([A-Za-z0-9]{4,8})(?![\w-])")
_KEYWORD = re.compile(
    r"(?i)(code|c[oó]digo|otp|\bpin\b|passcode|password|contrase[ñn]a|clave|verif|v[ée]rification|token"
    r"|one[- ]time|\b2fa\b|\bmfa\b|log[- ]?in|sign[- ]?in|authenticat|autenticaci|confirm)")
_NEAR = 48
"""How many characters a code may stand from its code word."""


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _is_code(token: str) -> bool:
    if token.isdigit():
        return 4 <= len(token) <= 8
    has_digit = any(ch.isdigit() for ch in token)
    has_alpha = any(ch.isalpha() for ch in token)
    return has_digit and has_alpha and 4 <= len(token) <= 8


def find_otp(text: str) -> str | None:
    """The one-time code in ``text``, or None."""
    if not text or len(text) > 2000:
        return None
    t = text
    for pattern in (_URL, _PHONE, _DATE, _TIME, _AMOUNT):
        t = _blank(t, pattern)  # same length: positions stay comparable
    keywords = [m.start() for m in _KEYWORD.finditer(t)]
    candidates: list[tuple[int, str]] = []
    for m in _PREFIXED.finditer(t):
        candidates.append((m.start(), m.group(1)))
    t2 = _blank(t, _PREFIXED)
    for m in _SPLIT.finditer(t2):
        candidates.append((m.start(), m.group(1) + m.group(2)))
    t2 = _blank(t2, _SPLIT)
    for m in _TOKEN.finditer(t2):
        if _is_code(m.group(1)):
            candidates.append((m.start(), m.group(1)))
    if not candidates:
        return None
    if not keywords:
        # no code word: only a message that is nothing but the code (and "<#>" or punctuation)
        rest = re.sub(r"[\s<#>:.!-]", "", text)
        only = [c for _, c in candidates if rest in (c, c.replace("-", ""))]
        return only[0] if len(candidates) == 1 and only else None

    def distance(item: tuple[int, str]) -> tuple[int, int]:
        pos, code = item
        d = min(abs(pos - k) for k in keywords)
        return (d, 0 if code.isdigit() else 1)

    best = min(candidates, key=distance)
    if distance(best)[0] > _NEAR:
        return None
    return best[1]
