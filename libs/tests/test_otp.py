"""One-time codes in SMS text: a varied corpus of codes and of look-alikes that are not codes."""

from __future__ import annotations

import pytest

from libs.otp import find_otp

CODES = [
    ("Your code is 1234", "1234"),
    ("Tu código es 5678", "5678"),
    ("Tu codigo de verificacion: 902134", "902134"),
    ("G-123456 is your Google verification code.", "123456"),
    ("123456 is your verification code. Don't share it with anyone.", "123456"),
    ("Your Acme verification code: 482913. It expires in 10 minutes.", "482913"),
    ("Use 7H3K9Q to sign in to Foo", "7H3K9Q"),
    ("Your login code is AB12CD", "AB12CD"),
    ("Code: 90210 https://acme.example/verify?u=12345678", "90210"),
    ("https://acme.example/l/Xy7Pq9 Your code is 3345", "3345"),
    ("Your one-time passcode is 12345678", "12345678"),
    ("<#> Your WhatsApp code: 123-456\nDon't share this code with others\n4sgLq1p5sV6", "123456"),
    ("Votre code de vérification est 246810", "246810"),
    ("Dein Bestätigungscode lautet 135791.", "135791"),
    ("PIN 0042 for your card ending 1234 was requested", "0042"),
    ("482913", "482913"),
    ("<#> 771204", "771204"),
    ("Acme: 5521 is your OTP. Valid for 5 min. Call 415-555-0100 if this wasn't you.", "5521"),
    ("Your Uber code: 8832. Never share this code. Reply STOP ASAP to 1-800-555-0199 to opt out", "8832"),
    ("Ingresa 4471 para confirmar tu cuenta", "4471"),
    ("Your verification token is k9Z2mQ", "k9Z2mQ"),
]

NOT_CODES = [
    "Call me at 415-555-0100",
    "Call +1 (415) 555-0100 about your code",
    "Meeting on 2026-01-05 at 10:30",
    "Your order total is $1234.56",
    "Your balance is $2500",
    "hello agentmessage",
    "See you at 1530 on Friday",
    "Your order 1234 has shipped",
    "YES",
    "STOP",
    "Save 20% today with code SPRING",
    "Your code expires on 12/05/2026",
    "Check https://t.co/a8Bc9Xy2 for details",
    "The total is 1,250 dollars, code word pineapple",
    "Flight UA1234 departs at 6:45pm",
    "",
]


@pytest.mark.parametrize(("text", "code"), CODES)
def test_codes_are_found(text: str, code: str) -> None:
    assert find_otp(text) == code


@pytest.mark.parametrize("text", NOT_CODES)
def test_look_alikes_are_not_codes(text: str) -> None:
    assert find_otp(text) is None
