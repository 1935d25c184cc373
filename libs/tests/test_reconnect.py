"""After NATS comes back, a connection says so: whatever was published on core NATS meanwhile was
missed, so caches kept by such events (the gateway's verified keys and sessions) forget everything. A
lost server is a warning; our own close (a stop) is not."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from structlog.testing import capture_logs

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
            with capture_logs() as lost:
                srv.stop()
                srv.start()
                await asyncio.wait_for(back.wait(), 30)
            assert nc.is_connected
            assert {"event": "nats_disconnected", "log_level": "warning"} in lost
            with capture_logs() as closing:
                await nc.close()
            assert [e["event"] for e in closing if e["log_level"] == "warning"] == []
            assert {"event": "nats_closed", "log_level": "info"} in closing
        finally:
            await nc.close()
            srv.stop()
