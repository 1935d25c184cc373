"""An SMSC that shares no code with ours: tests/smpp/smsc.js on the npm ``smpp`` package (pinned), run
with node. The package is installed at test time into ``.cache/npm-smpp`` (gitignored)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
CACHE = HERE.parent.parent / ".cache" / "npm-smpp"
PACKAGE = "smpp@0.5.1"


def node_modules() -> Path:
    """Install the npm package once (skips the test when node or npm is not there)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the independent SMSC")
    mods = CACHE / "node_modules"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel test runs)
        if not (mods / "smpp" / "package.json").exists():
            done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), PACKAGE],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                pytest.fail(f"npm install {PACKAGE} failed: {done.stderr[-2000:]}")
    return mods


class NodeSmsc:
    def __init__(self, port: int, system_id: str = "esme1", password: str = "secret1",
                 tls: tuple[str, str] | None = None):
        self.port = port
        self.tls = tls
        """(key file, certificate file): SMPP over TLS"""
        self.system_id = system_id
        self.password = password
        self.events: list[dict[str, Any]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def url(self, password: str | None = None, **query: Any) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{'smpps' if self.tls else 'smpp'}://{self.system_id}:{password or self.password}@127.0.0.1:{self.port}" + (f"?{q}" if q else "")

    async def start(self) -> None:
        env = dict(os.environ, NODE_PATH=str(node_modules()))
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(HERE / "smsc.js"), str(self.port), self.system_id, self.password, *(self.tls or ()), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        self._reader = asyncio.create_task(self._read(self.proc))
        await self.wait(lambda e: e["ev"] == "listening", since=len(self.events))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))
                self._changed.set()

    async def stop(self) -> None:
        """SIGKILL: the SMSC goes away without an unbind (as a crashed one does)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader

    async def send(self, **cmd: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()

    def of(self, ev: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["ev"] == ev]

    async def wait(self, pred: Any, timeout: float = 15.0, since: int = 0, count: int = 1) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [e for e in self.events[since:] if pred(e)]
            if len(found) >= count:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"SMSC did not see it within {timeout}s; last events: {self.events[-10:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
