"""amctl: filters for events tail, and the CLI against a running gateway and NATS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import unittest.mock
from pathlib import Path

import nats

from libs.bus.conn import ensure_stream
from libs.embedded.ports import free_port
from libs.testing import SLACK
from proto.subjects import StreamSpec, Subjects
from services.amctl import __main__ as cli
from services.amctl.events import filters_for, subject_filter


def test_filters_per_domain() -> None:
    s = Subjects()
    assert filters_for(s, "am.>", None)["outbound"] == "am.outbound.>"
    assert filters_for(s, "am.outbound.>", None) == {"outbound": "am.outbound.>"}
    assert filters_for(s, "am.>", "org1")["inbound"] == "am.inbound.*.*.org1"
    assert filters_for(s, "am.outbound.message.message_queued.*", None) == {
        "outbound": "am.outbound.message.message_queued.*"}


def test_keys_create_takes_scopes_and_caps(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from services.amctl import __main__ as cli

    sent: list[tuple[str, str, object]] = []
    monkeypatch.setattr(cli, "api", lambda method, path, body=None, auth=True: sent.append((method, path, body)) or 0)
    assert cli.main(["keys", "create", "bot", "--preset", "send-only", "--scope", "billing:read",
                     "--sends-per-day", "3", "--allow-recipient", "+1415", "--expires-at", "2030-01-01T00:00:00Z"]) == 0
    assert sent == [("POST", "/v1/api-keys", {"name": "bot", "preset": "send-only", "scopes": ["billing:read"],
                                              "caps": {"sends_per_day": 3, "allowed_recipients": ["+1415"],
                                                       "expires_at": "2030-01-01T00:00:00Z"}})]


# -- ops: the settings, an unreachable stack, streams, events tail ---------------------------------




REPO = Path(__file__).resolve().parents[3]


def amctl(*args: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AM_", "AGENTMESSAGE_"))}
    return subprocess.run([sys.executable, "-m", "services.amctl", *args], cwd=REPO, env={**base, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_settings_are_the_stacks() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AM_")}
    with unittest.mock.patch.dict(os.environ, {**env, "AM_NATS_PORT": "19880", "AM_GATEWAY_PORT": "9880"}, clear=True):
        assert cli.nats_url() == "nats://127.0.0.1:19880"
        assert cli.api_url() == "http://127.0.0.1:9880"
        assert cli.nats_url("nats://h:1") == "nats://h:1" and cli.api_url("http://h:2/") == "http://h:2"
    with unittest.mock.patch.dict(os.environ, {**env, "AM_NATS_URL": "nats://x:4222", "AM_NATS_PORT": "1"},
                                  clear=True):
        assert cli.nats_url() == "nats://x:4222"


def test_mcp_over_stdio_talks_to_the_api_amctl_names(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import libs.mcptools.stdio

    urls: list[str | None] = []
    monkeypatch.setattr(libs.mcptools.stdio, "run_stdio", urls.append)
    monkeypatch.delenv("AM_API_URL", raising=False)
    monkeypatch.setenv("AM_GATEWAY_PORT", "9881")
    assert cli.main(["mcp"]) == 0
    assert cli.main(["--api", "http://h:2/", "mcp"]) == 0
    assert urls == ["http://127.0.0.1:9881", "http://h:2"]


def test_help_names_the_settings_it_reads() -> None:
    out = amctl("--help").stdout
    for var in ("AM_NATS_URL", "AM_NATS_PORT", "AM_API_URL", "AM_GATEWAY_PORT", "--nats", "--api"):
        assert var in out, var


def test_unreachable_nats_and_api_fail_fast_with_one_line() -> None:
    port = free_port()  # nothing listens there
    for args, env in ((("streams",), {"AM_NATS_PORT": str(port)}),
                      (("events", "tail"), {"AM_NATS_PORT": str(port)}),
                      (("--nats", f"nats://127.0.0.1:{port}", "streams"), {}),
                      (("--api", f"http://127.0.0.1:{port}", "balance"), {"AGENTMESSAGE_API_KEY": "k"}),
                      (("keys", "list"), {"AM_GATEWAY_PORT": str(port), "AGENTMESSAGE_API_KEY": "k"})):
        started = time.monotonic()
        out = amctl(*args, timeout=60, **env)
        took = time.monotonic() - started
        assert out.returncode == 1, (args, out)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amctl: cannot reach"), (args, out.stderr)
        assert str(port) in lines[0] and "Traceback" not in out.stderr
        assert took < 5 * SLACK, f"{args}: {took:.1f}s"  # no retrying: one try, then the line


def test_subject_filter_by_domain_type_and_org() -> None:
    assert subject_filter("am", "outbound", None, None) == "am.outbound.>"
    assert subject_filter("am", "outbound", "message.message_queued", None) == "am.outbound.message.message_queued.*"
    assert subject_filter("am", "outbound", "message_queued", "o1") == "am.outbound.*.message_queued.o1"
    assert subject_filter("am", "inbound", None, "o1") == "am.inbound.*.*.o1"


async def test_streams_and_tail_against_real_nats(nats_url: str, subject_root: str) -> None:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for d in ("outbound", "accounts"):
            await ensure_stream(nc, subjects, StreamSpec(d), max_age_s=86400.0 * 7, max_bytes=1 << 30)
        await js.add_consumer(subjects.stream_name("outbound"), durable_name="ops-test",
                              filter_subject=f"{subject_root}.outbound.>")
        wanted = f"{subject_root}.outbound.message.message_queued.org-a"
        for subject in (wanted, f"{subject_root}.outbound.message.message_queued.org-b",
                        f"{subject_root}.outbound.message.message_sent.org-a",
                        f"{subject_root}.accounts.account.credit_granted.org-a"):
            await js.publish(subject, json.dumps({"type": subject.split(".")[3]}).encode())
    finally:
        await nc.close()
    env = {"AM_NATS_URL": nats_url, "AM_SUBJECT_ROOT": subject_root}
    out = amctl("streams", **env)
    assert out.returncode == 0, out.stderr
    row = next(ln for ln in out.stdout.splitlines() if ln.startswith(subjects.stream_name("outbound")))
    assert row.split()[1:] == ["3", row.split()[2], "1", "7d", "1.0GiB"], row
    consumer = next(ln for ln in out.stdout.splitlines() if "ops-test" in ln)
    assert consumer.split()[2:] == ["3", "0", "0"], consumer  # pending, ack pending, redelivered

    out = amctl("events", "tail", "--since", "1h", "--domain", "outbound", "--type", "message.message_queued",
                "--org", "org-a", "--json", "--limit", "1", **env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == ['{"type": "message_queued"}']


async def test_tail_exits_with_one_line_when_nats_goes_away(tmp_path: Path) -> None:
    from libs.embedded.servers import nats_server_binary

    port = free_port()
    server = subprocess.Popen([nats_server_binary(), "-js", "-sd", str(tmp_path), "-a", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"nats://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # until it listens
            try:
                nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=1)
                break
            except Exception:
                assert time.monotonic() < deadline, "nats-server did not start"
                await asyncio.sleep(0.1)
        await ensure_stream(nc, Subjects(), StreamSpec("outbound"))
        await nc.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AM_")} | {"AM_NATS_URL": url}
        tail = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.amctl", "events", "tail", "--domain", "outbound", cwd=REPO, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        # it is following once the server shows its consumer
        nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)
        js = nc.jetstream()
        while (await js.stream_info("AM_OUTBOUND")).state.consumer_count == 0:
            assert time.monotonic() < deadline + 20 and tail.returncode is None
            await asyncio.sleep(0.1)
        await nc.close()
        server.terminate()
        server.wait(timeout=10)
        stopped = time.monotonic()
        _, err = await asyncio.wait_for(tail.communicate(), 15 * SLACK)
        assert tail.returncode == 1, err
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1 and "lost the connection to NATS" in lines[0], lines
        assert time.monotonic() - stopped < 10 * SLACK
    finally:
        if server.poll() is None:
            server.kill()


async def test_the_urls_user_wins_over_a_make_run_credentials_file(nats_url: str, subject_root: str,
                                                                  tmp_path: Path) -> None:
    # a `make run` stack's credentials file in the working folder (here: its data dir), for another server
    creds = tmp_path / "nats" / "credentials.json"
    creds.parent.mkdir(parents=True)
    creds.write_text(json.dumps({"ops": "the password of another server's ops user"}))
    nc = await nats.connect(nats_url)
    try:
        await ensure_stream(nc, Subjects(subject_root), StreamSpec("outbound"), max_age_s=3600.0, max_bytes=1 << 20)
    finally:
        await nc.close()
    out = amctl("streams", AM_NATS_URL=nats_url, AM_SUBJECT_ROOT=subject_root, AM_DATA_DIR=str(tmp_path))
    assert out.returncode == 0, out.stderr  # logged in as the URL's user, not as the file's ops
    assert Subjects(subject_root).stream_name("outbound") in out.stdout
