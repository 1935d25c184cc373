"""Who texts a number: a phone number (E.164 once parsed), a short code or an alphanumeric sender id."""

from __future__ import annotations

from libs.phone import is_sender_id, normalize_sender


def test_senders_besides_numbers_are_short_codes_and_sender_ids() -> None:
    assert all(is_sender_id(v) for v in ("22395", "262966", "ACME Bank", "Google", "G00GLE"))
    assert not any(is_sender_id(v) for v in ("12", "123456789", "+14155550123", "not a sender!", "ABCDEFGHIJKL", ""))
    assert normalize_sender("+1 (415) 555-0123") == "+14155550123"
    assert normalize_sender(" 22395 ") == "22395" and normalize_sender("ACME Bank") == "ACME Bank"
