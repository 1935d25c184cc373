"""A log line goes to standard output as it is when the line is written: a test session swaps
``sys.stdout`` for each test and closes the old one, and a logger still bound to a closed one raised
``ValueError`` from a log call (a batch worker that logged its failure died, and its callers hung)."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from libs.obs.logging import configure_logging


def test_a_line_goes_to_the_stdout_of_the_moment_even_after_the_first_was_closed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    configure_logging("test", "info")
    log = structlog.get_logger("test_logging_stdout")
    log.warning("first_line")
    assert "first_line" in first.getvalue()
    first.close()
    monkeypatch.setattr(sys, "stdout", second)
    log.warning("second_line")  # raised ValueError: I/O operation on closed file
    assert "second_line" in second.getvalue()
