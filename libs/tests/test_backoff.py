"""The one backoff formula and retry policy (libs.backoff): pure, given/when/then."""

from __future__ import annotations

import itertools

import pytest

from libs.backoff import RetryPolicy, backoff

POLICY = RetryPolicy(base_s=5.0, cap_s=3600.0, window_s=86400.0)


def test_without_jitter_the_step_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff(n, 0.25, 30.0) for n in (1, 2, 3, 4, 8, 9)] == [0.25, 0.5, 1.0, 2.0, 30.0, 30.0]
    assert backoff(0, 0.25, 30.0) == 0.25  # a first try counted as 0 waits the base too


def test_equal_jitter_stays_between_half_and_the_whole_step() -> None:
    assert backoff(1, 0.5, 60, 0.0) == 0.25
    assert backoff(1, 0.5, 60, 0.999) < 0.5
    assert backoff(3, 0.5, 60, 0.0) == 1.0
    assert backoff(30, 0.5, 60, 0.0) == 30.0
    assert backoff(30, 0.5, 60, 0.999) < 60.0
    assert backoff(2, 1.0, 60, 7.0) == 2.0  # a draw out of range is clamped


def test_policy_doubles_from_the_base_up_to_the_cap_with_jitter_between_half_and_full() -> None:
    full = [POLICY.delay(n, 0.999999) for n in range(1, 16)]
    half = [POLICY.delay(n, 0.0) for n in range(1, 16)]
    assert full[:4] == pytest.approx([5.0, 10.0, 20.0, 40.0], rel=1e-5)
    assert half[:4] == [2.5, 5.0, 10.0, 20.0]
    assert full[-1] == pytest.approx(3600.0, rel=1e-5) and half[-1] == 1800.0
    assert all(a <= b for a, b in itertools.pairwise(half))
    assert POLICY.delay(10_000, 0.5) == 2700.0  # no overflow far out


def test_retries_last_at_least_the_window_then_give_up() -> None:
    elapsed, failures = 0.0, 0
    while True:
        failures += 1
        delay = POLICY.next_delay(elapsed, failures, 0.0)  # shortest jitter: the most attempts
        if delay is None:
            break
        elapsed += delay
    assert elapsed >= 86400.0
    assert 20 <= failures <= 80
    assert POLICY.next_delay(86399.0, 3, 0.5) is not None
    assert POLICY.next_delay(86400.0, 3, 0.5) is None


def test_a_policy_with_a_number_of_attempts_gives_up_after_the_last() -> None:
    p = RetryPolicy(base_s=1.0, cap_s=600.0, max_attempts=3)
    assert p.next_delay(0.0, 1, 0.0) == 0.5
    assert p.next_delay(0.0, 2, 0.0) == 1.0
    assert p.next_delay(0.0, 3, 0.0) is None


def test_a_short_schedule_for_tests() -> None:
    p = RetryPolicy(base_s=0.05, cap_s=0.2, window_s=1.0)
    assert [p.delay(n, 0.999999) for n in (1, 2, 3, 4)] == pytest.approx([0.05, 0.1, 0.2, 0.2], rel=1e-4)
