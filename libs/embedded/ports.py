"""Ports for test and development stacks: free ones below Linux's ephemeral range, never handed out
twice in one process, and whether something listens on one."""

from __future__ import annotations

import random
import socket

_handed_out: set[int] = set()


def free_port_block(n: int) -> int:
    """A base port with ``base + 1`` … ``base + n`` all free (and none handed out before), for a stack
    whose services listen on consecutive ports."""
    while True:
        base = random.randrange(20_000, 32_000 - n - 1)
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
    while True:
        port = random.randrange(20_000, 32_000)
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
