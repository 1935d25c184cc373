"""Pytest plugin: real NATS and PostgreSQL for every test session, isolated per test."""

from __future__ import annotations

import os

SLACK = float(os.environ.get("AM_TEST_SLACK", "3"))
"""How much longer than written a wait on a condition may take: a busy machine (CI runs beside other
work) slows every step, and a wait costs only what its condition takes when it holds."""
