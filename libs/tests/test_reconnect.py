"""After NATS comes back, a connection says so: whatever was published on core NATS meanwhile was
missed, so caches kept by such events (the gateway's verified keys and sessions) forget everything."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from libs.bus.conn import connect
from libs.embedded.ports import free_port
from libs.embedded.servers import EmbeddedNats


async def test_reconnected_runs_after_the_server_comes_back() -> None:
    with tempfile.TemporaryDirectory(prefix="am-nats-", dir="/tmp") as d:
        srv = EmbeddedNats(Path(d), free_port(), subject_root=None).start()
        back = asyncio.Event()
        nc = await connect(srv.url, "test", reconnected=back.set)
        try:
            await nc.flush()
            assert not back.is_set()
            srv.stop()
            srv.start()
            await asyncio.wait_for(back.wait(), 30)
            assert nc.is_connected
        finally:
            await nc.close()
            srv.stop()
