"""Connect with endless reconnect; provision streams idempotently."""

from __future__ import annotations

import ssl
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from proto.subjects import StreamSpec, Subjects

log = structlog.get_logger(__name__)


def tls_context(ca: str = "", cert: str = "", key: str = "") -> ssl.SSLContext | None:
    """A client TLS context when a CA or a client certificate is configured, else None (plain)."""
    if not (ca or cert):
        return None
    ctx = ssl.create_default_context(cafile=ca or None)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


async def connect(url: str, name: str, user: str = "", password: str = "",
                  tls: ssl.SSLContext | None = None) -> Client:
    """Connect as ``user`` (each service its own NATS user); credentials in the URL also work."""
    auth: dict[str, Any] = {}
    if user:
        auth = {"user": user, "password": password}
    if tls is not None:
        auth["tls"] = tls
    async def on_error(e: Exception) -> None:
        log.warning("nats_error", error=repr(e))

    async def on_disconnect() -> None:
        log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        log.info("nats_reconnected")

    return await nats.connect(
        servers=[u.strip() for u in url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        connect_timeout=5,
        drain_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        **auth,
    )


async def ensure_stream(nc: Client, subjects: Subjects, spec: StreamSpec, replicas: int = 1) -> None:
    """Create the domain's stream, or update it when its config changed."""
    js = nc.jetstream()
    name = subjects.stream_name(spec.domain)
    cfg = StreamConfig(
        name=name,
        subjects=[subjects.domain_wildcard(spec.domain)],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_days * 86400.0,
        duplicate_window=float(spec.duplicate_window_s),
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(cfg)
            log.info("stream_created", stream=cfg.name)
        except Exception:
            await js.update_stream(cfg)  # a replica created it in between
        return
    cur = info.config
    if (
        cur.subjects != cfg.subjects
        or cur.max_age != cfg.max_age
        or cur.duplicate_window != cfg.duplicate_window
        or cur.num_replicas != cfg.num_replicas
    ):
        await js.update_stream(cfg)
        log.info("stream_updated", stream=cfg.name)
