"""Public API building blocks: the envelope, pagination, money and phone-number formats."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

Limit = Annotated[int, msgspec.Meta(ge=1, le=100, description="Page size, 1-100")]
E164 = Annotated[str, msgspec.Meta(min_length=2, max_length=20, description="Phone number, E.164", examples=["+14155550123"])]
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


def decode_cursor(cursor: str) -> list[Any]:
    pad = "=" * (-len(cursor) % 4)
    try:
        value = msgspec.json.decode(base64.urlsafe_b64decode(cursor + pad))
    except Exception as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(value, list):
        raise ValueError("invalid cursor")
    return value
