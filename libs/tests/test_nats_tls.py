"""Services reach NATS over TLS when AM_NATS_TLS_CA (and, for mutual TLS, AM_NATS_TLS_CERT/KEY) are set:
``libs.bus.conn.connect`` against a real nats-server that requires TLS and a user."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from libs.bus.conn import connect, tls_context
from libs.embedded.ports import free_port, port_open
from libs.embedded.servers import nats_server_binary

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_nats() -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="am-nats-tls-", dir="/tmp") as d:
        p = Path(d)
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                 "-keyout", "ca.key", "-out", "ca.pem", cwd=p)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
                 "-out", "server.csr", cwd=p)
        (p / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "1", "-extfile", "san.ext", "-out", "server.pem", cwd=p)
        port = free_port()
        proc = subprocess.Popen([nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "--tls",
                                 "--tlscert", str(p / "server.pem"), "--tlskey", str(p / "server.key"),
                                 "--user", "numbers", "--pass", "s3cret"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not port_open(port):
                assert proc.poll() is None and time.monotonic() < deadline, "nats-server did not start"
                time.sleep(0.05)
            yield f"tls://127.0.0.1:{port}", p
        finally:
            proc.terminate()
            proc.wait(10)


async def test_connect_over_tls_with_the_ca_and_a_user(tls_nats: tuple[str, Path]) -> None:
    url, certs = tls_nats
    nc = await connect(url, "am-test", "numbers", "s3cret", tls_context(str(certs / "ca.pem")))
    try:
        sub = await nc.subscribe("am.cmd.numbers.ping")
        await nc.publish("am.cmd.numbers.ping", b"over tls")
        assert (await sub.next_msg(timeout=5)).data == b"over tls"
    finally:
        await nc.close()


def test_no_tls_settings_means_no_tls_context() -> None:
    assert tls_context() is None
