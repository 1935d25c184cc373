"""Where the CPU goes: CPU time of every process the benchmark started, grouped by role.

`make bench` starts NATS, PostgreSQL and the whole system (services.devstack and its services) as
descendants of its own process, so one walk of /proc from the bench's pid finds every process that
does work for a request. A snapshot before and after a measured phase gives each role's CPU
milliseconds; divided by the phase's accepted sends that is the CPU budget of one send. Linux only
(/proc); elsewhere the snapshot is empty and the budget line says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01

ROLES = ("gateway", "outbound", "compliance", "accounts", "numbers", "inbound", "carrier", "carrier_sim",
         "nats", "postgres", "devstack", "load generator")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "load generator"
    try:
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    words = [a.decode(errors="replace") for a in argv if a]
    for i, word in enumerate(words):
        if word == "-m" and i + 1 < len(words) and words[i + 1].startswith("services."):
            return words[i + 1].removeprefix("services.")
    text = " ".join(words)
    if "nats-server" in text:
        return "nats"
    if "postgres" in text:
        return "postgres"
    return "other"


def _cpu_seconds(pid: int) -> float:
    """User + system time of a live process (its own threads; children are walked separately)."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime (fields 14, 15 of stat)


IDLE: set[int] = set()
"""Roots of process trees that are not part of the measurement (a second stack standing by while the
phase runs on the first): ``snapshot`` leaves them and their descendants out."""


@contextmanager
def leaving_out(*pids: int) -> Iterator[None]:
    """Snapshots taken inside leave out the process trees rooted at ``pids``."""
    IDLE.update(pids)
    try:
        yield
    finally:
        IDLE.difference_update(pids)


def snapshot(root: int | None = None) -> dict[int, tuple[str, float]]:
    """pid → (role, CPU seconds so far) for ``root`` (default: this process) and all its descendants, but
    those under ``IDLE``."""
    if not Path("/proc/self/stat").exists():
        return {}
    root = os.getpid() if root is None else root
    kids = _children()
    out: dict[int, tuple[str, float]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in IDLE:
            continue
        out[pid] = (_role(pid, root), _cpu_seconds(pid))
        todo.extend(kids.get(pid, ()))
    return out


def by_role(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each role spent between two snapshots. A process that started in between counts
    from zero; one that ended in between is lost (the services and servers live through a phase)."""
    spent: dict[str, float] = {}
    for pid, (role, cpu) in after.items():
        prev = before.get(pid)
        spent[role] = spent.get(role, 0.0) + cpu - (prev[1] if prev and prev[0] == role else 0.0)
    return spent


def budget_rows(spent: dict[str, float], units: int) -> list[tuple[str, float]]:
    """(role, CPU milliseconds per unit) in the fixed role order, roles that spent nothing left out,
    then the total."""
    rows = [(role, spent[role] * 1000 / units) for role in (*ROLES, "other") if spent.get(role, 0.0) > 0]
    rows.append(("total", sum(spent.values()) * 1000 / units))
    return rows


def by_process(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each process spent between two snapshots, named by role; a role's second and later
    processes (replicas) as ``role#2`` … in order of pid. PostgreSQL's backends and NATS's nodes stay
    one row each (``postgres``, ``nats``): they are one server, not replicas of a service."""
    spent: dict[str, float] = {}
    seen: dict[str, int] = {}
    for pid in sorted(after):
        role, cpu = after[pid]
        prev = before.get(pid)
        used = cpu - (prev[1] if prev and prev[0] == role else 0.0)
        name = role
        if role not in ("postgres", "nats", "other", "load generator"):
            seen[role] = seen.get(role, 0) + 1
            name = role if seen[role] == 1 else f"{role}#{seen[role]}"
        spent[name] = spent.get(name, 0.0) + used
    return spent
