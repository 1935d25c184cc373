"""Cross-service fixtures: the whole system, in-process, against real NATS and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.system import System, running_system


@pytest.fixture
async def system(settings_env: dict[str, str]) -> AsyncIterator[System]:
    async with running_system(settings_env) as s:
        yield s
