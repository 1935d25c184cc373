"""Pure rules of inbound: numbers as the carrier gives them, arrival positions and cursors, the webhook payload,
and the retry schedule. No I/O."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import msgspec

from libs.otp import find_otp
from libs.phone import normalize_sender
from proto import base
from proto.api import decode_cursor, encode_cursor
from proto.base import CommandError
from proto.http.inbound import InboundWebhook


def conversation_of(to: str, from_: str) -> tuple[str, str]:
    """A text's conversation, whose texts keep their order: our number and the contact's."""
    return normalize_sender(to), normalize_sender(from_)


_OFFSET_AS_SPACE = re.compile(r" (\d\d:?\d\d)$")


def parse_rfc3339(raw: str) -> datetime | None:
    """An RFC 3339 time with a zone, or None. A ``+hh:mm`` offset that a query string turned into a space
    is read as meant."""
    return base.parse_rfc3339(_OFFSET_AS_SPACE.sub(r"+\1", raw.strip()))


# -- positions ------------------------------------------------------------------------------------------
Direction = Literal["b", "a"]
"""b: older than the position (the newest-first list's next page); a: newer than it (oldest first)."""


def encode_position(direction: Direction, seq: int) -> str:
    return encode_cursor(direction, seq)


def decode_position(token: str, field: str) -> tuple[Direction, int]:
    """A cursor we issued, or a 400 naming ``field``."""
    try:
        parts = decode_cursor(token)
        direction, seq = parts
        if direction not in ("a", "b") or not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
            raise ValueError(token)
    except (ValueError, TypeError) as exc:
        raise CommandError("VALIDATION_ERROR", f"{field}: not a cursor or message id we issued", 400,
                           {"field": field}) from exc
    return ("a" if direction == "a" else "b"), seq


# -- webhook payload ------------------------------------------------------------------------------------
_enc = msgspec.json.Encoder()


def webhook_body(*, message_id: str, event_id: str, from_: str, to: str, body: str, received_at: str,
                 phone_number_id: str) -> bytes:
    """The exact bytes POSTed (and signed): the message's public fields plus a stable event id and type."""
    return _enc.encode(InboundWebhook(id=message_id, event_id=event_id, from_=from_, to=to, body=body,
                                      received_at=received_at, phone_number_id=phone_number_id,
                                      otp=find_otp(body) or msgspec.UNSET))


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


# -- per-number lanes -----------------------------------------------------------------------------------
@dataclass
class Lanes:
    """How many webhook POSTs each phone number may have in flight: ``healthy`` while its receiver answers
    2xx quickly, ``unhealthy`` after a failure or a slow answer, until it answers well again. So a slow or
    dead receiver holds a couple of the worker's slots, never all of them, and a fast one gets throughput."""

    healthy: int
    unhealthy: int
    in_flight: Counter[str] = field(default_factory=Counter)
    sick: set[str] = field(default_factory=set)

    def cap(self, number: str) -> int:
        return max(1, self.unhealthy if number in self.sick else self.healthy)

    def free(self, number: str) -> int:
        return max(0, self.cap(number) - self.in_flight[number])

    def limits(self) -> tuple[list[str], list[int]]:
        """Numbers whose free slots differ from a fresh healthy number's, with those free slots (the claim
        query takes at most that many of each)."""
        numbers = sorted(set(self.in_flight) | self.sick)
        return numbers, [self.free(n) for n in numbers]

    def any_full(self) -> bool:
        """Whether some number has no free slot (its due rows wait for one of its attempts to end)."""
        return any(self.in_flight[n] >= self.cap(n) for n in self.in_flight)

    def start(self, number: str) -> bool:
        if self.free(number) <= 0:
            return False
        self.in_flight[number] += 1
        return True

    def finish(self, number: str, healthy: bool | None) -> None:
        """``healthy`` None: the attempt says nothing about the receiver (it was never called)."""
        self.in_flight[number] -= 1
        if self.in_flight[number] <= 0:
            del self.in_flight[number]
        if healthy is True:
            self.sick.discard(number)
        elif healthy is False:
            if len(self.sick) > 100_000:
                self.sick.clear()
            self.sick.add(number)
