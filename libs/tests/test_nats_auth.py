"""NATS requires authentication, and each user holds only its permissions (libs/bus/auth.py): a real
nats-server configured as `make run` configures it (root ``am``)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from libs.bus.auth import ROLES, permissions
from libs.embedded.ports import free_port
from libs.embedded.servers import EmbeddedNats


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedNats]:
    with tempfile.TemporaryDirectory(prefix="am-nats-auth-", dir="/tmp") as d:
        srv = EmbeddedNats(Path(d), free_port(), subject_root="am").start()
        try:
            yield srv
        finally:
            srv.stop()


class Client:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: Any = None

    async def connect(self, srv: EmbeddedNats, user: str, password: str | None = None) -> Client:
        async def on_error(e: Exception) -> None:
            self.errors.append(str(e).lower())

        self.nc = await nats.connect(srv.url, user=user, password=password or srv.credentials[user],
                                     error_cb=on_error, allow_reconnect=False, max_reconnect_attempts=0)
        return self

    async def violation(self, what: str) -> None:
        """Wait (bounded) until the server reported a permissions violation naming ``what``."""
        for _ in range(200):
            if any("permissions violation" in e and what.lower() in e for e in self.errors):
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"no permissions violation for {what}: {self.errors}")


@pytest.fixture
async def clients(server: EmbeddedNats) -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for c in made:
        await c.nc.close()


async def test_no_credentials_no_connection(server: EmbeddedNats) -> None:
    for kw in ({}, {"user": "numbers", "password": "wrong"}, {"user": "nobody", "password": "x"}):
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **kw)


async def test_a_service_publishes_and_subscribes_only_what_it_needs(server: EmbeddedNats,
                                                                     clients: list[Client]) -> None:
    numbers = await Client().connect(server, "numbers")
    gateway = await Client().connect(server, "gateway")
    clients += [numbers, gateway]

    async def answer(msg: Any) -> None:
        await msg.respond(b"pong")

    await numbers.nc.subscribe("am.cmd.numbers.ping", queue="numbers", cb=answer)
    await numbers.nc.flush()
    reply = await gateway.nc.request("am.cmd.numbers.ping", b"ping", timeout=5)  # allowed both ways
    assert reply.data == b"pong"
    await numbers.nc.publish("am.outbound.message.message_sent.x", b"forged")  # another domain's event
    await numbers.violation("am.outbound.message.message_sent.x")
    await numbers.nc.publish("am.cmd.compliance.record_consent", b"{}")  # a command it never sends
    await numbers.violation("am.cmd.compliance.record_consent")
    await gateway.nc.subscribe(">")  # the gateway may not listen to everything
    await gateway.violation('">"')


async def test_ops_reads_but_never_writes(server: EmbeddedNats, clients: list[Client]) -> None:
    ops = await Client().connect(server, "ops")
    clients.append(ops)
    await ops.nc.publish("am.cmd.accounts.create_key", b"{}")
    await ops.violation("am.cmd.accounts.create_key")
    await ops.nc.publish("am.accounts.api_key.api_key_created.x", b"{}")
    await ops.violation("am.accounts.api_key.api_key_created.x")


def test_the_table_names_every_service_and_no_wildcard_beyond_its_domains() -> None:
    table = permissions("am")
    assert set(ROLES) <= set(table) and table["admin"]["publish"]["allow"] == [">"]
    for user, perms in table.items():
        if user == "admin":
            continue
        assert ">" not in perms["publish"]["allow"] and ">" not in perms["subscribe"]["allow"], user
        assert not any(p.startswith("am.>") or p == "$JS.API.>" for p in perms["publish"]["allow"]), user


async def test_the_rendered_block_for_a_deployment_runs_in_nats_server() -> None:
    """``python -m libs.bus.auth am amctl`` (passwords from the server's environment) is a configuration
    nats-server accepts, and its users hold the same permissions."""
    import os
    import subprocess

    from libs.bus.auth import render_conf
    from libs.embedded.ports import port_open
    from libs.embedded.servers import nats_server_binary

    with tempfile.TemporaryDirectory(prefix="am-nats-conf-", dir="/tmp") as d:
        conf = Path(d) / "nats.conf"
        conf.write_text(render_conf("am", "amctl"))
        env = {**os.environ, **{f"NATS_PASSWORD_{u.upper()}": f"pw-{u}" for u in [*ROLES, "amctl"]}}
        port = free_port()
        proc = subprocess.Popen([nats_server_binary(), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(400):
                if port_open(port):
                    break
                assert proc.poll() is None, "nats-server refused the configuration"
                await asyncio.sleep(0.05)
            errors: list[str] = []

            async def on_error(e: Exception) -> None:
                errors.append(str(e).lower())

            nc = await nats.connect(f"nats://127.0.0.1:{port}", user="numbers", password="pw-numbers",
                                    error_cb=on_error, allow_reconnect=False, max_reconnect_attempts=0)
            await nc.publish("am.numbers.phone_number.phone_number_ordered.x", b"{}")  # its own: fine
            await nc.publish("am.accounts.credit.credit_granted.x", b"{}")  # not its own
            for _ in range(200):
                if errors:
                    break
                await asyncio.sleep(0.025)
            assert len(errors) == 1 and "am.accounts.credit.credit_granted.x" in errors[0], errors
            await nc.close()
            with pytest.raises(Exception, match=r"(?i)authorization"):
                await nats.connect(f"nats://127.0.0.1:{port}", user="amctl", password="wrong",
                                   allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
        finally:
            proc.terminate()
            proc.wait(10)
