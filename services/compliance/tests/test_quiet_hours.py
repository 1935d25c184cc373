"""Quiet hours: federal and state windows in the recipient's zone, against an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.compliance import quiet_hours as qh

SF, FL, FL_PANHANDLE, TX, RI, CT, NY = ("+14155550123", "+13055550123", "+18505550100", "+12145550123",
                                        "+14015550123", "+12035550100", "+12125550123")
AK, UNKNOWN, TOLL_FREE = "+19075550123", "+15551234567", "+18005550123"


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("number", "zones", "state", "known"), [
    (SF, ("America/Los_Angeles",), "CA", True),
    (FL, ("America/New_York",), "FL", True),
    (FL_PANHANDLE, ("America/New_York",), "FL", True),
    (TX, ("America/Chicago",), "TX", True),
    (RI, ("America/New_York",), "RI", True),
    (CT, ("America/New_York",), "CT", True),
    (NY, ("America/New_York",), "NY", True),
    (AK, ("America/Adak", "America/Anchorage"), None, True),
    (UNKNOWN, qh.US_ZONES, None, False),
    (TOLL_FREE, qh.US_ZONES, None, False),
])
def test_area_from_the_number(number: str, zones: tuple[str, ...], state: str | None, known: bool) -> None:
    a = qh.area_of(number)
    assert (a.zones, a.state, a.known) == (zones, state, known)


# 2026-01-15 is a Thursday (winter: PST = UTC-8, EST = UTC-5, CST = UTC-6)
@pytest.mark.parametrize(("number", "now", "open_", "next_open"), [
    (SF, utc(2026, 1, 15, 15, 59), False, utc(2026, 1, 15, 16, 0)),   # 07:59 PST
    (SF, utc(2026, 1, 15, 16, 0), True, None),                          # 08:00 PST
    (SF, utc(2026, 1, 16, 4, 59), True, None),                          # 20:59 PST
    (SF, utc(2026, 1, 16, 5, 0), False, utc(2026, 1, 16, 16, 0)),      # 21:00 PST -> 08:00 next day
    (NY, utc(2026, 1, 16, 1, 59), True, None),                          # 20:59 EST
    (NY, utc(2026, 1, 16, 2, 0), False, utc(2026, 1, 16, 13, 0)),      # 21:00 EST
    (FL, utc(2026, 1, 16, 0, 59), True, None),                          # 19:59 EST
    (FL, utc(2026, 1, 16, 1, 0), False, utc(2026, 1, 16, 13, 0)),      # 20:00 EST: Florida closes at 8pm
    (FL_PANHANDLE, utc(2026, 1, 16, 1, 30), False, utc(2026, 1, 16, 13, 0)),
    (CT, utc(2026, 1, 15, 13, 30), False, utc(2026, 1, 15, 14, 0)),    # 08:30 EST: Connecticut opens at 9
    (CT, utc(2026, 1, 15, 14, 0), True, None),
    (CT, utc(2026, 1, 16, 1, 0), False, utc(2026, 1, 16, 14, 0)),      # 20:00 EST
    (TX, utc(2026, 1, 17, 14, 59), False, utc(2026, 1, 17, 15, 0)),    # Saturday 08:59 CST: Texas opens at 9
    (TX, utc(2026, 1, 17, 15, 0), True, None),
    (TX, utc(2026, 1, 18, 17, 59), False, utc(2026, 1, 18, 18, 0)),    # Sunday 11:59 CST: from noon on Sundays
    (TX, utc(2026, 1, 18, 18, 0), True, None),
    (TX, utc(2026, 1, 19, 2, 59), True, None),                          # Sunday 20:59 CST
    (RI, utc(2026, 1, 15, 22, 59), True, None),                         # Thursday 17:59 EST
    (RI, utc(2026, 1, 15, 23, 0), False, utc(2026, 1, 16, 14, 0)),     # 18:00 EST -> Friday 09:00
    (RI, utc(2026, 1, 16, 23, 30), False, utc(2026, 1, 19, 14, 0)),    # Friday 18:30 -> Monday 09:00
    (RI, utc(2026, 1, 17, 17, 0), False, utc(2026, 1, 19, 14, 0)),     # Saturday noon: weekdays only
    # unknown zone: only the hours every US zone shares (Honolulu opens last, New York closes first)
    (UNKNOWN, utc(2026, 1, 15, 17, 59), False, utc(2026, 1, 15, 18, 0)),
    (UNKNOWN, utc(2026, 1, 15, 18, 0), True, None),
    (UNKNOWN, utc(2026, 1, 16, 1, 59), True, None),
    (UNKNOWN, utc(2026, 1, 16, 2, 0), False, utc(2026, 1, 16, 18, 0)),
    (TOLL_FREE, utc(2026, 1, 15, 12, 0), False, utc(2026, 1, 15, 18, 0)),
    # summer (EDT = UTC-4, HDT Adak = UTC-9, Honolulu stays UTC-10): New York closes at 01:00 UTC
    (UNKNOWN, utc(2026, 7, 15, 0, 59), True, None),
    (UNKNOWN, utc(2026, 7, 15, 1, 0), False, utc(2026, 7, 15, 18, 0)),
    # several zones for one number: Alaska's Adak and Anchorage share 09:00-21:00 Anchorage time
    (AK, utc(2026, 1, 15, 17, 30), False, utc(2026, 1, 15, 18, 0)),    # 08:30 AKST, 07:30 HST
    (AK, utc(2026, 1, 16, 5, 59), True, None),                          # 20:59 AKST
    (AK, utc(2026, 1, 16, 6, 0), False, utc(2026, 1, 16, 18, 0)),
    # DST starts 2026-03-08: 08:00 PDT is 15:00 UTC
    (SF, utc(2026, 3, 8, 6, 0), False, utc(2026, 3, 8, 15, 0)),
])
def test_window_and_next_open(number: str, now: datetime, open_: bool, next_open: datetime | None) -> None:
    area = qh.area_of(number)
    assert qh.is_open(area, now) is open_
    assert qh.next_open(area, now) == (now if open_ else next_open)


def test_next_open_is_always_open_and_nothing_earlier_is() -> None:
    for number in (SF, FL, TX, RI, CT, AK, UNKNOWN):
        area = qh.area_of(number)
        for hour in range(0, 24 * 7, 5):
            now = utc(2026, 1, 12) + timedelta(hours=hour, minutes=7)
            nxt = qh.next_open(area, now)
            assert nxt is not None and qh.is_open(area, nxt)
            probe = now
            while probe < nxt:
                assert not qh.is_open(area, probe), (number, probe)
                probe += timedelta(minutes=15)


def test_daily_windows_are_inside_the_federal_one() -> None:
    for state in [*qh.STATE_WINDOWS, None, "CA"]:
        for day in range(12, 19):
            w = qh.daily_window(state, utc(2026, 1, day).date())
            assert w is None or (8 <= w[0] < w[1] <= 21)


def test_local_view_names_zone_and_window() -> None:
    assert "America/Los_Angeles allowed 08:00-21:00" in qh.local_view(qh.area_of(SF), utc(2026, 1, 15, 20))
    assert "state FL" in qh.local_view(qh.area_of(FL), utc(2026, 1, 15, 20))
