"""Times as text: the public API's one format (RFC 3339 UTC, milliseconds, Z) and the one parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from proto.base import CommandError, parse_rfc3339, parse_time, rfc3339


def test_the_public_format_is_utc_with_milliseconds_and_z() -> None:
    assert rfc3339(datetime(2026, 6, 11, 12, 1, 0, tzinfo=UTC)) == "2026-06-11T12:01:00.000Z"
    assert rfc3339(datetime(2026, 6, 11, 12, 1, 0, 123999, tzinfo=UTC)) == "2026-06-11T12:01:00.123Z"
    pacific = timezone(timedelta(hours=-7))
    assert rfc3339(datetime(2026, 6, 11, 5, 1, 0, 5000, tzinfo=pacific)) == "2026-06-11T12:01:00.005Z"


@pytest.mark.parametrize("text", ["2026-06-11T12:01:00.123Z", "2026-06-11T12:01:00.123z", " 2026-06-11T12:01:00.123Z ",
                                  "2026-06-11T05:01:00.123-07:00", "2026-06-11T12:01:00.123+00:00"])
def test_any_rfc3339_time_with_a_zone_parses_to_the_same_instant(text: str) -> None:
    ts = parse_rfc3339(text)
    assert ts is not None and ts == datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC)
    assert rfc3339(ts) == "2026-06-11T12:01:00.123Z"  # round trip


@pytest.mark.parametrize("text", ["2026-06-11T12:01:00", "tomorrow", "", "2026-13-01T00:00:00Z"])
def test_a_time_without_a_zone_or_no_time_at_all_is_refused_naming_the_field(text: str) -> None:
    assert parse_rfc3339(text) is None
    with pytest.raises(CommandError) as err:
        parse_time(text, "send_at")
    assert err.value.code == "VALIDATION_ERROR" and err.value.status == 400
    assert err.value.details == {"field": "send_at"} and err.value.message.startswith("send_at: ")
