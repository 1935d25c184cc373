"""A stand-in DNS for the callback-URL rule (libs/webhooks/urls.py): names answer what a test says, and a
name can be made to rebind (a public address for the check when saved, a private one afterwards)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from libs.webhooks import urls


@contextlib.contextmanager
def fake_dns(table: dict[str, list[str]], calls: list[str] | None = None) -> Iterator[dict[str, list[str]]]:
    """Host → addresses; ``table["rebind:<host>"] = [...]`` makes later lookups of <host> answer those.
    An unknown host fails as a real lookup does. ``calls``, when given, gets every name looked up."""
    asked: set[str] = set()

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if f"rebind:{host}" in table and host in asked:
            return list(table[f"rebind:{host}"])
        asked.add(host)
        if host not in table:
            raise OSError("no such host")
        return list(table[host])

    urls.set_resolver(resolve)
    urls.forget_checks()
    try:
        yield table
    finally:
        urls.set_resolver(None)
        urls.forget_checks()
