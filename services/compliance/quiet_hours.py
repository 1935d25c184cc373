"""Quiet hours: when may a non-transactional text reach this recipient? Pure (the clock is an argument).

Federal (TCPA): 8am-9pm recipient local time. Stricter states (DOMAIN.md): FL, MD, OK, NJ, MS 8am-8pm;
CT 9am-8pm; TX 9am-9pm, Sunday from noon; RI 9am-6pm on weekdays only. The recipient's zones and state
come from libphonenumber's offline time-zone mapper and geocoder for the number's prefix. Where it
returns several zones only the hours all of them share count; a number it cannot place (the quickstart's
+15551234567, a toll-free number) gets the hours all US zones share."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as pn_timezone

FEDERAL = (8, 21)
"""Hours [open, close) in the recipient's local time."""

# weekday (Monday 0 .. Sunday 6) -> (open, close) or None (no sending that day); absent weekday = default
STATE_WINDOWS: dict[str, tuple[tuple[int, int], dict[int, tuple[int, int] | None]]] = {
    "FL": ((8, 20), {}),
    "MD": ((8, 20), {}),
    "OK": ((8, 20), {}),
    "NJ": ((8, 20), {}),
    "MS": ((8, 20), {}),
    "CT": ((9, 20), {}),
    "TX": ((9, 21), {6: (12, 21)}),
    "RI": ((9, 18), {5: None, 6: None}),
}

STATE_NAMES = {
    "florida": "FL", "maryland": "MD", "oklahoma": "OK", "new jersey": "NJ", "mississippi": "MS",
    "connecticut": "CT", "texas": "TX", "rhode island": "RI",
}

US_ZONES: tuple[str, ...] = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "America/Adak", "Pacific/Honolulu",
)
"""The 50 states' zones: a recipient we cannot place gets the hours all of these share."""


@dataclass(frozen=True)
class Area:
    zones: tuple[str, ...]
    state: str | None
    known: bool
    """False when the zone could not be inferred from the number (all US zones apply)."""

    def describe(self) -> str:
        where = ", ".join(self.zones) if self.known else "unknown zone: all US zones"
        return f"{where}{f' ({self.state})' if self.state else ''}"


@functools.lru_cache(maxsize=200_000)
def area_of(e164: str) -> Area:
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return Area(US_ZONES, None, False)
    zones = tuple(z for z in pn_timezone.time_zones_for_number(num) if z != "Etc/Unknown")
    if not zones or not phonenumbers.is_valid_number(num) or (
            num.country_code == 1 and not phonenumbers.is_number_geographical(num)):
        return Area(US_ZONES, None, False)
    state = None
    if num.country_code == 1:
        desc = geocoder.description_for_number(num, "en")
        tail = desc.rsplit(",", 1)[-1].strip()
        state = tail if len(tail) == 2 and tail.isupper() else STATE_NAMES.get(desc.strip().lower())
    return Area(zones, state, True)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def daily_window(state: str | None, day: date) -> tuple[int, int] | None:
    """The hours [open, close) on ``day`` (local) for a recipient in ``state``: federal ∩ state."""
    lo, hi = FEDERAL
    if state in STATE_WINDOWS:
        default, by_day = STATE_WINDOWS[state]
        wd = day.weekday()
        w = by_day[wd] if wd in by_day else default
        if w is None:
            return None
        lo, hi = max(lo, w[0]), min(hi, w[1])
    return (lo, hi) if lo < hi else None


def _open_in(zone: str, state: str | None, now: datetime) -> bool:
    local = now.astimezone(_zone(zone))
    w = daily_window(state, local.date())
    return w is not None and time(w[0]) <= local.time() < time(w[1])


def is_open(area: Area, now: datetime) -> bool:
    return all(_open_in(z, area.state, now) for z in area.zones)


def next_open(area: Area, now: datetime, horizon_days: int = 9) -> datetime | None:
    """The first instant at or after ``now`` when every zone is inside its window. It is ``now`` or the
    opening of some zone's window, so only those instants are tried."""
    if is_open(area, now):
        return now
    candidates: list[datetime] = []
    for z in area.zones:
        tz = _zone(z)
        start = now.astimezone(tz).date()
        for offset in range(horizon_days):
            day = start + timedelta(days=offset)
            w = daily_window(area.state, day)
            if w is None:
                continue
            opens = datetime.combine(day, time(w[0]), tzinfo=tz)
            if opens > now:
                candidates.append(opens)
    for c in sorted(candidates):
        if is_open(area, c):
            return c
    return None


def local_view(area: Area, now: datetime) -> str:
    """Recipient-time summary for a check's detail, e.g. ``21:14 America/Los_Angeles (CA) 08:00-21:00``."""
    parts = []
    for z in area.zones[:3]:
        local = now.astimezone(_zone(z))
        w = daily_window(area.state, local.date())
        hours = f"{w[0]:02d}:00-{w[1]:02d}:00" if w else "no sending today"
        parts.append(f"{local:%a %H:%M} {z} allowed {hours}")
    more = f" (+{len(area.zones) - 3} zones)" if len(area.zones) > 3 else ""
    return "; ".join(parts) + more + (f"; state {area.state}" if area.state else "")
