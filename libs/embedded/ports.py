"""Ports for test and development stacks: free ones below Linux's ephemeral range, never handed out
twice in one process, and whether something listens on one."""

from __future__ import annotations

import os
import random
import re
import socket

_handed_out: set[int] = set()
LOW, HIGH = 20_000, 32_000
"""Where listeners' ports come from: below Linux's ephemeral range (32768+), where no client connection's
local port can land."""


def _span() -> tuple[int, int]:
    """This process's share of [LOW, HIGH): under pytest-xdist each worker draws from a slice of its own,
    so two workers (each a process, each remembering only its own ports) never hand out the same port —
    one worker's listener found the port another had just handed out and bound first ("address already
    in use" while a test started its services)."""
    worker = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker is None or not count.isdigit() or int(count) < 2:
        return LOW, HIGH
    k, n = int(worker.group(1)), int(count)
    width = (HIGH - LOW) // n
    return LOW + (k % n) * width, LOW + (k % n + 1) * width


def free_port_block(n: int) -> int:
    """A base port with ``base + 1`` … ``base + n`` all free (and none handed out before), for a stack
    whose services listen on consecutive ports."""
    low, high = _span()
    while True:
        base = random.randrange(low, high - n - 1)
        block = range(base + 1, base + n + 1)
        if any(p in _handed_out for p in block):
            continue
        try:
            for port in block:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.update(block)
        return base


def free_port() -> int:
    """A free port for a listener, below Linux's ephemeral range (32768+). A port from that range can
    be the local port of some client connection a moment later, and the listener's bind then fails."""
    low, high = _span()
    while True:
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``port`` and it can be bound."""
    if port_open(port, host):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
