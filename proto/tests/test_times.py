"""Times as text: the public API's one format (RFC 3339 UTC, milliseconds, Z), the one parser, page cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from proto.api import encode_cursor, page_after, time_cursor
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


@pytest.mark.parametrize("text", ["2026-06-11T12:01:00", "tomorrow", "", "2026-13-01T00:00:00Z",
                                  "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_without_a_zone_or_no_time_at_all_is_refused_naming_the_field(text: str) -> None:
    assert parse_rfc3339(text) is None
    with pytest.raises(CommandError) as err:
        parse_time(text, "send_at")
    assert err.value.code == "VALIDATION_ERROR" and err.value.status == 400
    assert err.value.details == {"field": "send_at"} and err.value.message.startswith("send_at: ")


def test_a_page_cursor_keeps_the_time_to_the_microsecond() -> None:
    at = datetime(2026, 6, 11, 12, 1, 0, 123456, tzinfo=UTC)
    key = "5a1b2c3d-4e5f-6789-abcd-ef0123456789"
    assert page_after(time_cursor(at, key)) == (at, key)
    assert page_after(None) == (None, None) and page_after("") == (None, None)


def test_a_cursor_written_before_still_reads() -> None:
    at = datetime(2026, 6, 11, 12, 1, 0, 123456, tzinfo=UTC)
    assert page_after(encode_cursor(at.isoformat(), "+14155550123"), key=str) == (at, "+14155550123")


@pytest.mark.parametrize("cursor", ["nope", encode_cursor("2026-06-11T12:01:00", "5a1b2c3d-4e5f-6789-abcd-ef0123456789"),
                                    encode_cursor("2026-06-11T12:01:00Z", "not-a-uuid"), encode_cursor(1, 2, 3)])
def test_a_cursor_not_of_ours_is_a_400_on_cursor(cursor: str) -> None:
    with pytest.raises(CommandError) as err:
        page_after(cursor)
    assert err.value.code == "VALIDATION_ERROR" and err.value.details == {"field": "cursor"}
