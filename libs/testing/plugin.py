"""Fixtures: ``nats_url`` and ``database_url`` (session), ``subject_root`` (per test, isolating
streams, subjects and schemas), ``settings_env`` for starting services in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from libs.testing.infra import nats_server, postgres_server


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def subject_root() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def settings_env(nats_url: str, database_url: str, subject_root: str) -> dict[str, str]:
    return {
        "AM_ENV": "test",
        "AM_NATS_URL": nats_url,
        "AM_DATABASE_URL": database_url,
        "AM_SUBJECT_ROOT": subject_root,
        "AM_LOG_LEVEL": "warning",
    }


SLOW_FIRST = ("tests/e2e/test_fuzz.py", "tests/chaos/", "tests/e2e/test_devstack.py", "tests/browser/",
              "tests/deploy/test_manifests.py", "tests/smpp/", "services/outbound/tests/integration/")
"""The longest tests (tens of seconds each), run first: on parallel workers a long test started last is a
tail that one worker runs while the others idle."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: the order within each group is the collection's
