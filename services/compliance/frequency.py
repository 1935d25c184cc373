"""Frequency caps: how many messages of a category one contact may get from one organization in a window.
Pure (times are arguments).

The law sets some (DOMAIN.md: Florida, Maryland and Oklahoma allow 3 ``marketing`` messages per 24 h), an
organization may add its own for any category (compliance settings ``frequency_caps``). A send counts from
the moment the gate allows it (accepted, or deferred to a later time: then it counts at that time), so
messages still queued count too; every cap holds over every window, the ones ahead included."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Cap:
    category: str
    max: int
    window_hours: int
    source: str = "organization"
    """Where the cap comes from: "organization" (settings) or "FL law", "MD law"..."""

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)

    def describe(self) -> str:
        return f"{self.max} {self.category} messages per {self.window_hours} h ({self.source})"


STATE_CAPS: dict[str, tuple[Cap, ...]] = {
    state: (Cap("marketing", 3, 24, f"{state} law"),) for state in ("FL", "MD", "OK")
}
"""Caps the recipient's state sets (by the number's area code), per organization and contact."""


@dataclass(frozen=True)
class Sent:
    """A send already allowed to the contact: its category and when it counts."""

    message_id: str
    category: str
    at: datetime


def caps_for(org_caps: Iterable[Cap], state: str | None, category: str) -> tuple[Cap, ...]:
    """The caps a send of ``category`` to a recipient in ``state`` is under."""
    caps = [*STATE_CAPS.get(state or "", ()), *org_caps]
    return tuple(c for c in caps if c.category == category)


def fits(sends: Sequence[datetime], cap: Cap, t: datetime) -> bool:
    """Would one more send at ``t`` keep every window (x - W, x] at ``cap.max`` or fewer? Only windows ending
    at ``t`` or at a later send within W of it can gain, and each of those holds the new send."""
    w = cap.window
    for x in [t, *(s for s in sends if t <= s < t + w)]:
        if sum(1 for s in sends if x - w < s <= x) + 1 > cap.max:
            return False
    return True


def earliest(sends: Sequence[Sent], caps: Sequence[Cap], start: datetime) -> datetime | None:
    """The first time at or after ``start`` a send fits under every cap: ``start``, or the moment an earlier
    send leaves a window. None when nothing fits within a year (a cap of 0)."""
    by_cap = {cap: [s.at for s in sends if s.category == cap.category] for cap in caps}
    candidates = {start} | {at + cap.window for cap, ats in by_cap.items() for at in ats if at + cap.window > start}
    for t in sorted(candidates):
        if t - start > timedelta(days=366):
            break
        if all(fits(ats, cap, t) for cap, ats in by_cap.items()):
            return t
    return None


def count_in_window(sends: Sequence[Sent], cap: Cap, at: datetime) -> int:
    return sum(1 for s in sends if s.category == cap.category and at - cap.window < s.at <= at)
