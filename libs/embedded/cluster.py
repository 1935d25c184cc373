"""A JetStream cluster on loopback: three (or more) embedded nats-servers joined by routes, for the
scale-out bench and test. Every node has the same users and passwords (one ``credentials.json``), so a
client may connect to any of them; streams created with ``num_replicas=3`` are kept on all three."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from libs.bus.auth import ADMIN_USER
from libs.embedded.ports import free_port
from libs.embedded.servers import EmbeddedNats


@dataclass
class NatsCluster:
    data_dir: Path
    size: int = 3
    subject_root: str | None = "*"
    """As ``EmbeddedNats.subject_root``: ``*`` writes the permission table for any root (tests)."""
    name: str = "am"
    nodes: list[EmbeddedNats] = field(default_factory=list)

    def start(self) -> NatsCluster:
        """Start every node; their routes name each other, so the cluster forms whichever starts first."""
        client = [free_port() for _ in range(self.size)]
        routes = [free_port() for _ in range(self.size)]
        urls = ",".join(f"nats://127.0.0.1:{p}" for p in routes)
        for i in range(self.size):
            node_dir = self.data_dir / f"n{i + 1}"
            node_dir.mkdir(parents=True, exist_ok=True)
            if self.nodes:  # the first node's users and passwords, so every node accepts every client
                shutil.copy(self.nodes[0].data_dir / "credentials.json", node_dir / "credentials.json")
            node = EmbeddedNats(node_dir, client[i], subject_root=self.subject_root, args=[
                "-n", f"{self.name}-n{i + 1}", "--cluster_name", self.name,
                "--cluster", f"nats://127.0.0.1:{routes[i]}", "--routes", urls])
            self.nodes.append(node.start())
        return self

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def url_for(self, user: str = ADMIN_USER) -> str:
        """Every node's URL with ``user``'s credentials, comma-separated (as AM_NATS_URL takes it)."""
        return ",".join(node.url_for(user) for node in self.nodes)

    async def wait_ready(self, timeout: float = 60) -> None:
        """Until JetStream answers through every node: the routes are up and a meta leader is elected
        (before that, creating a stream fails with "JetStream system temporarily unavailable")."""
        import nats

        deadline = asyncio.get_running_loop().time() + timeout
        for node in self.nodes:
            while True:
                try:
                    nc = await nats.connect(node.url_for(ADMIN_USER), connect_timeout=2, allow_reconnect=False)
                    try:
                        await nc.jetstream().account_info()
                        break
                    finally:
                        await nc.close()
                except Exception:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.2)
