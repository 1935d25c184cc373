"""No service's consumer polls: a fetch hands over what has come as soon as something has
(``libs/tests/test_consumer_wake.py``), so a short fetch timeout is no latency — it only costs an idle
consumer, and the NATS server, a pull request that often (two consumers at 20 ms were most of an idle
system's CPU: outbound 60 to 90 and NATS 43 to 52 ms a second, against 6 to 9 and 9 to 11 without)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHORTEST_FETCH_S = 0.5


def short_fetches(source: str, name: str) -> list[str]:
    """``fetch_timeout_s=<constant>`` below the floor in the calls of ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if (kw.arg == "fetch_timeout_s" and isinstance(kw.value, ast.Constant)
                        and isinstance(kw.value.value, int | float) and kw.value.value < SHORTEST_FETCH_S):
                    found.append(f"{name}:{node.lineno}: fetch_timeout_s={kw.value.value}")
    return found


def test_no_service_consumer_fetches_with_a_short_timeout() -> None:
    found = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        if "tests" not in path.relative_to(ROOT).parts:
            found += short_fetches(path.read_text(), path.relative_to(ROOT).as_posix())
    assert not found, found


def test_the_check_finds_a_short_fetch() -> None:
    assert short_fetches("ConsumerSpec(durable='x', batch=16, fetch_timeout_s=0.02)", "x.py") == [
        "x.py:1: fetch_timeout_s=0.02"]
    assert short_fetches("ConsumerSpec(durable='x', fetch_timeout_s=1.0)", "x.py") == []
