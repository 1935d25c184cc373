"""Phone numbers: parse and normalise to E.164 with phonenumbers, checked for form, not assignment."""

from __future__ import annotations

import phonenumbers


def normalize_e164(raw: str, default_region: str = "US") -> str:
    """E.164 for a *possible* number (the quickstart's +15551234567 is accepted; carriers decide
    deliverability). Raises ValueError with a readable reason."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("a phone number is required")
    try:
        num = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(num):
        raise ValueError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
