"""Public API building blocks: the envelope, pagination, money and phone-number formats."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from proto.base import CommandError, parse_uuid

T = TypeVar("T")

Limit = Annotated[int, msgspec.Meta(ge=1, le=100, description="Page size, 1-100")]
E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
E164 = Annotated[str, msgspec.Meta(min_length=3, max_length=16, pattern=E164_PATTERN,
                                   description="Phone number, E.164 (+ and 2-15 digits); it must also be a "
                                               "possible number for its country", examples=["+14155550123"])]
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=EMAIL_PATTERN, examples=["dev@example.com"])]
RFC3339_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                   r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
Rfc3339 = Annotated[str, msgspec.Meta(max_length=40, pattern=RFC3339_PATTERN,
                                      description="RFC 3339 time with a zone", examples=["2026-06-11T12:00:00Z"])]
UUID = Annotated[str, msgspec.Meta(description="UUID", examples=["7c1f0a2d-9e8b-4c3a-9d2e-1f0a2b3c4d5e"])]


class Page(msgspec.Struct, Generic[T], kw_only=True):
    data: list[T]
    next_cursor: str | None = None


class ErrorDetail(msgspec.Struct, kw_only=True):
    code: str
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    success: bool
    error: ErrorDetail


class PageMeta(msgspec.Struct, kw_only=True):
    next_cursor: str | None = None


def format_money(micros: int) -> str:
    """Dollars with 4 decimals, as a string (no float rounding on the wire)."""
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    return f"{sign}{micros // 1_000_000}.{(micros % 1_000_000) // 100:04d}"


def parse_money(s: str) -> int:
    whole, _, frac = s.partition(".")
    frac = (frac + "000000")[:6]
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * 1_000_000 + int(frac))


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(parts))).decode().rstrip("=")


def time_cursor(at: datetime, key: str) -> str:
    """The cursor after a row of a page ordered by (time, key). The time travels as msgspec writes a
    ``datetime`` (RFC 3339, microseconds), so the next page starts exactly after it."""
    return encode_cursor(at, key)


def page_cursor(rows: Sequence[Any], limit: int, at: str = "created_at", key: str = "id") -> str | None:
    """The cursor after a page of ``rows`` read with ``LIMIT limit + 1`` (newest first by (``at``, ``key``)):
    after its last row, or None when nothing is left."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return time_cursor(last[at], str(last[key]))


_Position = tuple[Annotated[datetime, msgspec.Meta(tz=True)], str]


def page_after(cursor: str | None, key: Callable[[str], str | None] = parse_uuid,
               ) -> tuple[datetime | None, str | None]:
    """Where the page of a :func:`time_cursor` starts: (None, None) without one, else its (time, key) with
    the key as ``key`` reads it (a UUID by default); a 400 ``VALIDATION_ERROR`` on ``cursor`` when the
    cursor is not one of ours."""
    if not cursor:
        return None, None
    try:
        at, raw = msgspec.convert(decode_cursor(cursor), _Position)
    except (ValueError, msgspec.ValidationError) as exc:
        raise CommandError("VALIDATION_ERROR", "cursor: invalid cursor", 400, {"field": "cursor"}) from exc
    ident = key(raw)
    if ident is None:  # a well-formed cursor whose key is none of ours
        raise CommandError("VALIDATION_ERROR", "cursor: invalid cursor", 400, {"field": "cursor"})
    return at, ident


def decode_cursor(cursor: str) -> list[Any]:
    pad = "=" * (-len(cursor) % 4)
    try:
        value = msgspec.json.decode(base64.urlsafe_b64decode(cursor + pad))
    except Exception as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(value, list):
        raise ValueError("invalid cursor")
    return value
