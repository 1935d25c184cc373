"""Who texts a number: a phone number (E.164 once parsed), a short code or an alphanumeric sender id."""

from __future__ import annotations

import random

import phonenumbers

from libs.phone import _normalize, is_sender_id, normalize_e164, normalize_sender


def test_senders_besides_numbers_are_short_codes_and_sender_ids() -> None:
    assert all(is_sender_id(v) for v in ("22395", "262966", "ACME Bank", "Google", "G00GLE"))
    assert not any(is_sender_id(v) for v in ("12", "123456789", "+14155550123", "not a sender!", "ABCDEFGHIJKL", ""))
    assert normalize_sender("+1 (415) 555-0123") == "+14155550123"
    assert normalize_sender(" 22395 ") == "22395" and normalize_sender("ACME Bank") == "ACME Bank"


def test_a_north_american_number_in_e164_is_taken_as_the_parse_would_answer() -> None:
    rng = random.Random(7)
    numbers = [f"+1{rng.randint(2, 9)}{rng.randrange(10**9):09d}" for _ in range(5_000)]
    numbers += ["+12000000000", "+19999999999", "+14155550123"]
    for n in numbers:
        assert normalize_e164(n) == _normalize.__wrapped__(n, "US") == n
        assert phonenumbers.is_possible_number(phonenumbers.parse(n))
    # any other form still goes through the parse (and its checks)
    for other in ("+10005550123", "+1415555012", "+141555501234", " +14155550123", "+1 415 555 0123", "4155550123"):
        try:
            expected: str | None = _normalize.__wrapped__(other, "US")
        except ValueError:
            expected = None
        try:
            got: str | None = normalize_e164(other)
        except ValueError:
            got = None
        assert got == expected, other
