"""Phone numbers: parse and normalise to E.164 with phonenumbers, checked for form, not assignment."""

from __future__ import annotations

import functools
import re

import phonenumbers

_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")
"""A North American number already in E.164 (an area code begins with 2-9): what the parse would answer,
at a tenth of its cost — most numbers we are given are in this form, and a provider's traffic has many
senders the cache has not seen (``libs/tests/test_phone.py`` holds it to the parse)."""


def normalize_e164(raw: str, default_region: str = "US") -> str:
    """E.164 for a *possible* number (the quickstart's +15551234567 is accepted; carriers decide
    deliverability). Raises ValueError with a readable reason."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("a phone number is required")
    if _NANP_E164.fullmatch(raw):
        return raw
    return _normalize(raw, default_region)


@functools.lru_cache(maxsize=65536)
def _normalize(raw: str, default_region: str) -> str:
    # a pure function of its text, parsed on every send (sender and recipient) and every gate decision:
    # the numbers of an organization's traffic repeat, so the answers are kept (errors are not)
    try:
        num = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(num):
        raise ValueError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_sender(raw: str) -> str:
    """Who a text came from as we store it: E.164 when it parses; otherwise the carrier's value as given (a
    short code, an alphanumeric sender id): a message is never refused for the form of its sender."""
    try:
        return normalize_e164(raw)
    except ValueError:
        return raw.strip()


def is_sender_id(raw: str) -> bool:
    """A short code (3-8 digits) or an alphanumeric sender id (up to 11 letters, digits and spaces, with a
    letter): the senders a filter may name besides an E.164 number."""
    v = raw.strip()
    if v.isdigit():
        return 3 <= len(v) <= 8
    return 0 < len(v) <= 11 and all(ch.isalnum() or ch == " " for ch in v) and any(ch.isalpha() for ch in v)
