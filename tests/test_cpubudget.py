"""The bench's CPU budget walks this process's descendants; a stack standing by is left out of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import cpubudget

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def test_a_tree_left_out_is_not_in_the_snapshot_and_comes_back_after() -> None:
    # a parent and its child, as devstack and a service
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run("
                               "[sys.executable, '-c', 'import time; time.sleep(60)'])"])
    try:
        child = None
        deadline = time.monotonic() + 60
        while child is None and time.monotonic() < deadline:  # until the child shows up under the parent
            child = next((p for p in cpubudget.snapshot() if _parent_of(p) == parent.pid), None)
            time.sleep(0.01)
        assert child, "the child process never appeared"
        assert {parent.pid, child} <= set(cpubudget.snapshot())
        with cpubudget.leaving_out(parent.pid):
            left = cpubudget.snapshot()
            assert parent.pid not in left and child not in left
        assert {parent.pid, child} <= set(cpubudget.snapshot())
        assert not cpubudget.IDLE
    finally:
        for pid in (p for p in cpubudget.snapshot() if _parent_of(p) == parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def _parent_of(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0
