"""Pure rules of accounts: credentials, keys, credit arithmetic. No I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

from proto.base import CommandError

KEY_PREFIX = "am_live_"
_ALPHABET = string.ascii_letters + string.digits
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def new_api_key_secret() -> str:
    """``am_live_`` + 40 base62 characters (about 238 bits)."""
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def hash_key(secret: str) -> str:
    """API keys are high-entropy: one SHA-256 is enough and lets auth look them up in O(1)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[: len(KEY_PREFIX) + 4]


def validate_signup(email: str, password: str, organization_name: str) -> str:
    fields: dict[str, str] = {}
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        fields["email"] = "must be an email address"
    if len(password) < 8 or len(password) > 256:
        fields["password"] = "must be 8 to 256 characters"
    if not organization_name.strip() or len(organization_name) > 200:
        fields["organization_name"] = "must be 1 to 200 characters"
    if fields:
        field = next(iter(fields))
        raise CommandError("VALIDATION_ERROR", f"{field}: {fields[field]}", 400, {"field": field, "fields": fields})
    return email


def check_reserve(available_micros: int, amount_micros: int) -> None:
    if amount_micros < 0:
        raise CommandError("VALIDATION_ERROR", "amount must not be negative", 400)
    if amount_micros > available_micros:
        raise CommandError(
            "INSUFFICIENT_CREDIT",
            "not enough credit for this request; add credit and try again",
            402,
            {"required_micros": amount_micros, "available_micros": available_micros},
        )
