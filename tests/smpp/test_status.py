"""``amctl carrier status`` against a running carrier service bound to the simulator's SMSC."""

from __future__ import annotations

import json
from typing import Any

from services.amctl import carrier
from tests.system import running_system


async def test_carrier_status_shows_binds(settings_env: dict[str, str], capsys: Any) -> None:
    async with running_system(settings_env, only=["carrier"]) as system:
        root, url = settings_env["AM_SUBJECT_ROOT"], settings_env["AM_NATS_URL"]

        async def bound() -> bool:
            capsys.readouterr()
            return await carrier.status(url, root, True) == 0

        await system.eventually(bound)
        st = json.loads(capsys.readouterr().out)
        assert st["adapter"] == "smpp" and st["ready"] is True and "agentmsg" not in st["upstream"]
        assert [(b["name"], b["mode"], b["state"], b["window"]) for b in st["binds"]] == [("trx1", "trx", "bound", 10)]
        assert await carrier.status(url, root, False) == 0
        assert "trx1   trx   bound" in capsys.readouterr().out
