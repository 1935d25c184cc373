"""Pure rules of outbound around the aggregate: segments and encoding, validation of a send, and timing
(retry backoff, validity, the expected send time). No I/O. The Message aggregate itself — statuses,
decide, evolve — is model.py; throughput shaping is shaping.py, equally pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

from libs.sms import GSM_BASIC as GSM_BASIC
from libs.sms import GSM_EXTENSION as GSM_EXTENSION
from libs.sms import MAX_TEXT_CHARS as MAX_TEXT_CHARS
from libs.sms import Encoding as Encoding
from libs.sms import count_segments as count_segments
from libs.sms import encoding_of as encoding_of
from proto.base import CommandError, parse_time
from proto.commands.compliance import Check

# -- segments: libs/sms.py (the gateway prices a send by the same rules for a key's spend cap) ------


QUIET_HOURS_CHECK = "quiet_hours"


# -- validation ------------------------------------------------------------------------------------
def invalid(field: str, message: str) -> CommandError:
    return CommandError("VALIDATION_ERROR", f"{field}: {message}", 400, {"field": field})


def storable(value: str) -> bool:
    """Text Postgres and the carrier can take: valid UTF-8 (no lone surrogates), no NUL."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_text(text: str) -> str:
    if not text:
        raise invalid("text", "must not be empty")
    if text.isspace():  # a template that rendered to nothing: never worth a billed, blank text
        raise invalid("text", "must not be blank (only spaces or line breaks)")
    if len(text) > MAX_TEXT_CHARS:
        raise invalid("text", f"must be at most {MAX_TEXT_CHARS} characters (got {len(text)})")
    if not storable(text):
        raise invalid("text", "must be valid Unicode without NUL characters")
    return text


def parse_send_at(value: str | None, now: datetime, max_days: int) -> datetime | None:
    """The time to send, or None for now (a time in the past means now)."""
    if value is None or not value.strip():
        return None
    ts = parse_time(value, "send_at")
    if ts > now + timedelta(days=max_days):
        raise invalid("send_at", f"must be within {max_days} days")
    return ts if ts > now else None


def validate_validity(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise invalid("validity_seconds", f"must be between 1 and {maximum}")
    return value


# -- timing ----------------------------------------------------------------------------------------
def expires_at(due: datetime, validity_s: int) -> datetime:
    """Validity counts from when the message may first go (now, send_at, or the end of quiet hours)."""
    return due + timedelta(seconds=validity_s)


def expected_send_at(now: datetime, ahead_segments: int, per_minute: float, segments: int = 1,
                     burst_s: float = 0.0) -> datetime:
    """When a queued message is expected to reach the carrier: every segment queued ahead of it on its
    number takes one token of the sender's throughput (``per_minute`` segments a minute), so a 5-segment
    message ahead costs 5 tokens; the bucket's burst (``burst_s`` of throughput, at least one segment)
    goes at once, and a message larger than the bucket goes when it is full (as the shaper does)."""
    if per_minute <= 0:
        return now
    rate = per_minute / 60.0
    cap = max(1.0, rate * burst_s) if burst_s > 0 else 1.0
    need = ahead_segments + min(segments, cap) - cap
    return now + timedelta(seconds=math.ceil(max(0.0, need) / rate))


def price_micros(segments: int, per_segment: int) -> int:
    return segments * per_segment


# -- carrier receipts ------------------------------------------------------------------------------
class Receipt(msgspec.Struct, kw_only=True, frozen=True):
    """A carrier's delivery receipt for a message (held on the message when it beats our MessageSent)."""

    carrier_message_id: str
    status: str
    reference: str | None = None
    error_code: str | None = None
    occurred_at: datetime | None = None


# -- quiet hours -----------------------------------------------------------------------------------
def deferred_by(checks: Sequence[Check]) -> str | None:
    """The names of the gate's checks that deferred a send, comma separated (None: none did)."""
    names = [k.name for k in checks if k.result == "defer"]
    return ",".join(names) if names else None


def released_when_quiet_hours_off(deferred: str | None) -> bool:
    """A message deferred by quiet hours alone goes when quiet hours are turned off (one deferred by
    another check as well still waits for it)."""
    return deferred is not None and set(deferred.split(",")) == {QUIET_HOURS_CHECK}


def due_without_quiet_hours(send_at: datetime | None, now: datetime) -> datetime:
    """When a message held by quiet hours goes once they are off: its send_at, or now."""
    return send_at if send_at is not None and send_at > now else now
