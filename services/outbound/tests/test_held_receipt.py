"""A receipt held on a message (it beat our MessageSent) is stored as JSON on the message's row. One held
before times were datetimes carries its time as the carrier's text; the message must still load."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.outbound.rules import Receipt
from services.outbound.store import held_receipt


def test_a_receipt_held_in_the_current_shape_loads() -> None:
    raw = '{"carrier_message_id":"c1","status":"DELIVRD","occurred_at":"2026-06-11T12:01:00.123Z"}'
    assert held_receipt(raw) == Receipt(carrier_message_id="c1", status="DELIVRD",
                                        occurred_at=datetime(2026, 6, 11, 12, 1, 0, 123000, tzinfo=UTC))


@pytest.mark.parametrize("old_time", ["", "2606111201", "not a time"])
def test_a_receipt_held_before_times_were_datetimes_loads_without_its_unreadable_time(old_time: str) -> None:
    # given a held receipt as it was written when its time was the carrier's text
    raw = f'{{"carrier_message_id":"c1","status":"UNDELIV","error_code":"005","occurred_at":"{old_time}"}}'
    # then the message's state reads it, its time unknown
    assert held_receipt(raw) == Receipt(carrier_message_id="c1", status="UNDELIV", error_code="005")


def test_nothing_held_is_none() -> None:
    assert held_receipt(None) is None and held_receipt("") is None
