"""Webhook URL policy with DNS: a host name is resolved and refused if any address is not public."""

from __future__ import annotations

import asyncio
import socket

from services.numbers import model


async def check_webhook_url(url: str, field: str, env: str, timeout_s: float = 2.0) -> str:
    """The URL as stored, or a 400 naming ``field``. Dev/test accept a host that does not resolve
    (no DNS in CI sandboxes); production refuses it."""
    target = model.check_url_form(url, field, env)
    if not target.needs_resolution:
        return target.url
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), timeout_s)
    except (OSError, TimeoutError) as exc:
        if env in model.RELAXED_ENVS:
            return target.url
        raise model.invalid(field, "host does not resolve") from exc
    model.check_addresses([str(info[4][0]) for info in infos], field)
    return target.url
