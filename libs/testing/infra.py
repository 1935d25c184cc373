"""Real servers for tests: given by URL (AM_TEST_NATS_URL / AM_TEST_DATABASE_URL), else
testcontainers when a Docker engine answers, else the embedded binaries."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from libs.bus.auth import ADMIN_USER
from libs.embedded.ports import free_port
from libs.embedded.servers import EmbeddedNats, EmbeddedPostgres

EMBEDDED_NATS: dict[str, EmbeddedNats] = {}
"""The embedded servers this session started, by URL: chaos tests kill and restart them."""
EMBEDDED_PG: dict[str, EmbeddedPostgres] = {}


def _docker_answers() -> bool:
    if os.environ.get("AM_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


def nats_server() -> contextlib.AbstractContextManager[str]:
    """The session's NATS: ``AM_TEST_NATS_URL``, else a container when Docker answers, else an embedded one."""
    return _server("AM_TEST_NATS_URL", _nats_container, _embedded_nats)


@contextlib.contextmanager
def _nats_container() -> Iterator[str]:
    from testcontainers.nats import NatsContainer

    with NatsContainer(image="nats:2.10").with_command("-js") as c:
        yield c.nats_uri()


@contextlib.contextmanager
def _embedded_nats() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="am-nats-", dir=_tmp_root()) as d:
        # authentication on, as in production: every test has its own subject root, so the permission
        # table is written with the root as a wildcard
        srv = EmbeddedNats(Path(d), free_port(), subject_root="*").start()
        url = srv.url_for(ADMIN_USER)
        EMBEDDED_NATS[url] = srv
        try:
            yield url
        finally:
            srv.stop(discard=True)  # the data goes with the temporary directory


def service_nats_env(nats_url: str, service: str) -> dict[str, str]:
    """Environment for ``service`` to connect as its own NATS user (the URL without credentials), when
    the session's NATS is an embedded one with authentication; else nothing to change."""
    srv = EMBEDDED_NATS.get(nats_url)
    if srv is None or not srv.credentials or service not in srv.credentials:
        return {}
    return {"AM_NATS_URL": srv.url, "AM_NATS_USER": service, "AM_NATS_PASSWORD": srv.credentials[service]}


def postgres_server() -> contextlib.AbstractContextManager[str]:
    """The session's PostgreSQL: ``AM_TEST_DATABASE_URL``, else a container when Docker answers, else an
    embedded one."""
    return _server("AM_TEST_DATABASE_URL", _postgres_container, _embedded_postgres)


@contextlib.contextmanager
def _postgres_container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver=None) as c:
        yield c.get_connection_url()


@contextlib.contextmanager
def _embedded_postgres() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="am-pg-", dir=_tmp_root()) as d:
        os.chmod(d, 0o755)
        srv = EmbeddedPostgres(Path(d) / "postgres", free_port(), durable=False).start()
        EMBEDDED_PG[srv.url] = srv
        try:
            yield srv.url
        finally:
            srv.stop(discard=True)  # the data goes with the temporary directory


@contextlib.contextmanager
def _server(given: str, container: Callable[[], contextlib.AbstractContextManager[str]],
            embedded: Callable[[], contextlib.AbstractContextManager[str]]) -> Iterator[str]:
    """The URL in the environment variable ``given``, else one that ``container`` (when Docker answers) or
    ``embedded`` starts for as long as this context lasts."""
    url = os.environ.get(given)
    if url:
        yield url
        return
    with (container() if _docker_answers() else embedded()) as started:
        yield started


def _tmp_root() -> str:
    return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
