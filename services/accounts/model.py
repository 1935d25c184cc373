"""Pure rules of accounts: credentials, keys, credit arithmetic. No I/O."""

from __future__ import annotations

import re

from proto.base import CommandError

KEY_PREFIX = "am_live_"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


_HASH = re.compile(r"^[0-9a-f]{64}$")


def check_key_fields(key_hash: str, prefix: str) -> None:
    """A key arrives as its SHA-256 and display prefix, made by the gateway (never as a secret)."""
    if not _HASH.match(key_hash) or not prefix.startswith(KEY_PREFIX) or len(prefix) != len(KEY_PREFIX) + 4:
        raise CommandError("VALIDATION_ERROR", "api key: malformed hash or prefix", 400)


def validate_signup(email: str, password_hash: str, organization_name: str) -> str:
    fields: dict[str, str] = {}
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        fields["email"] = "must be an email address"
    if not password_hash.startswith("$argon2id$") or len(password_hash) > 512:
        fields["password"] = "must arrive hashed (argon2id) by the gateway"
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
