"""Ports for test stacks: each pytest-xdist worker draws from a slice of its own, so two workers never
hand out the same port (each remembers only its own)."""

from __future__ import annotations

import os

import pytest

from libs.embedded import ports


def test_each_xdist_worker_draws_from_its_own_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: two workers of a run
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    drawn: dict[str, set[int]] = {}
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        # when: each hands out ports, one at a time and in blocks
        drawn[worker] = {ports.free_port() for _ in range(200)}
        base = ports.free_port_block(8)
        drawn[worker] |= set(range(base + 1, base + 9))
    # then: the first worker's are all in the lower half of the range, the second's in the upper half
    middle = (ports.LOW + ports.HIGH) // 2
    assert all(ports.LOW <= p < middle for p in drawn["gw0"])
    assert all(middle <= p < ports.HIGH for p in drawn["gw1"])


def test_outside_xdist_the_whole_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert ports._span() == (ports.LOW, ports.HIGH)
    assert ports.LOW <= ports.free_port() < ports.HIGH


def test_this_run_s_worker_is_seen() -> None:
    # (run with -n 2, as make test does: the variables pytest-xdist sets are the ones read)
    if os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") == "1":
        pytest.skip("not under pytest-xdist")
    low, high = ports._span()
    assert high - low < ports.HIGH - ports.LOW
