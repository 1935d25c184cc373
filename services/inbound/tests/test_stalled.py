"""``Stalled``: a conversation's later texts wait behind one that failed one by one, in the order they
came, at most ``max_waits`` times each, and a stalled text not seen again is forgotten."""

from __future__ import annotations

from libs.testing.clock import Clock
from services.inbound.ingest import Stalled

CONV = ("+14155550100", "+15551234567")
OTHER = ("+14155550100", "+15550000000")


def test_later_texts_wait_in_order_and_go_once_the_first_is_stored() -> None:
    s = Stalled(forget_s=60, max_waits=10, clock=Clock(0.0))
    assert not s.must_wait(CONV, "a") and not s
    s.failed(CONV, "a")
    assert s.waits(CONV) and not s.waits(OTHER)
    assert s.must_wait(CONV, "b") and s.must_wait(CONV, "c")
    assert not s.must_wait(CONV, "a")  # the first goes again
    s.done(CONV, "a")
    assert not s.must_wait(CONV, "b") and s.must_wait(CONV, "c")  # b is first now, c still behind it
    s.done(CONV, "b")
    assert not s.must_wait(CONV, "c")
    s.done(CONV, "c")
    assert not s and not s.waits(CONV)


def test_a_text_waits_at_most_max_waits_times() -> None:
    s = Stalled(forget_s=60, max_waits=3, clock=Clock(0.0))
    s.failed(CONV, "a")
    assert [s.must_wait(CONV, "b") for _ in range(5)] == [True, True, True, False, False]


def test_a_stalled_text_not_seen_again_is_forgotten() -> None:
    clock = Clock(0.0)
    s = Stalled(forget_s=60, max_waits=10, clock=clock)
    s.failed(CONV, "a")
    clock.now = 50
    assert s.must_wait(CONV, "b")
    clock.now = 100  # a was last seen at 0: dead-lettered, or another replica took it
    assert not s.must_wait(CONV, "b")  # b was seen at 50: it is first now
    clock.now = 200
    assert not s.waits(CONV) and not s
