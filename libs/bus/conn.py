"""Connect with endless reconnect; provision streams idempotently."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import replace
from typing import Any

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
                  tls: ssl.SSLContext | None = None, reconnected: Callable[[], None] | None = None) -> Client:
    """Connect as ``user`` (each service its own NATS user); credentials in the URL also work.
    ``reconnected`` runs after every reconnect: what was published meanwhile on core NATS (no stream
    keeps it for this client) was missed, so caches kept by such events must forget."""
    options: dict[str, Any] = {"reconnect_time_wait": 0.5}  # seconds (nats-py types it int; it takes floats)
    if user:
        options.update(user=user, password=password)
    if tls is not None:
        options["tls"] = tls

    async def on_error(e: Exception) -> None:
        log.warning("nats_error", error=repr(e))

    async def on_disconnect() -> None:
        if nc.is_closed:  # our own close (a stop): nothing went wrong
            log.info("nats_closed")
        else:
            log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        log.info("nats_reconnected")
        if reconnected is not None:
            reconnected()

    nc = Client()
    await nc.connect(
        servers=[u.strip() for u in url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        allow_reconnect=True,
        connect_timeout=5,
        drain_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        **options,
    )
    return nc


SETUP_API_TIMEOUT_S = 20.0
"""How long a JetStream API call made while a service starts (a stream looked up or created, a consumer
created) may take: nothing waits on it but the start, and a busy server (every service of a deployment
starting at once, a loaded machine) answers these slower than nats-py's 5 s default."""


async def ensure_stream(
    nc: Client,
    subjects: Subjects,
    spec: StreamSpec,
    replicas: int = 1,
    *,
    max_age_s: float | None = None,
    max_bytes: int = -1,
    update_limits: bool = False,
) -> None:
    """Create the domain's stream if it is missing, with these limits.

    Who owns a stream's configuration: the service creates it; after that its limits (max age,
    max bytes, replicas) belong to the operator, who may change them with ``nats stream edit`` or
    ``amctl``. A service starting later never puts its own limits back — unless ``update_limits``
    (AM_STREAM_UPDATE_LIMITS) says the settings win. What the code depends on (subjects, the
    duplicate window used for exactly-once publishing) is always restored."""
    js = nc.jetstream(timeout=SETUP_API_TIMEOUT_S)
    name = subjects.stream_name(spec.domain)
    cfg = StreamConfig(
        name=name,
        subjects=[subjects.domain_wildcard(spec.domain)],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=float(max_age_s) if max_age_s is not None else spec.max_age_days * 86400.0,
        max_bytes=max_bytes if max_bytes > 0 else -1,
        duplicate_window=float(spec.duplicate_window_s),
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(cfg)
            log.info("stream_created", stream=cfg.name, max_age_s=cfg.max_age, max_bytes=cfg.max_bytes,
                     replicas=cfg.num_replicas)
            return
        except Exception:
            info = await js.stream_info(name)  # a replica created it in between
    cur = info.config
    want = cur
    changed: list[str] = []
    if cur.subjects != cfg.subjects or cur.duplicate_window != cfg.duplicate_window:
        want = replace(want, subjects=cfg.subjects, duplicate_window=cfg.duplicate_window)
        changed.append("subjects/duplicate_window")
    limits_differ = (
        cur.max_age != cfg.max_age
        or (cur.max_bytes or -1) != cfg.max_bytes
        or (cur.num_replicas or 1) != cfg.num_replicas
    )
    if limits_differ and update_limits:
        want = replace(want, max_age=cfg.max_age, max_bytes=cfg.max_bytes, num_replicas=cfg.num_replicas)
        changed.append("limits")
    elif limits_differ:
        log.info("stream_limits_kept", stream=name, max_age_s=cur.max_age, max_bytes=cur.max_bytes,
                 replicas=cur.num_replicas, hint="set AM_STREAM_UPDATE_LIMITS=true to apply the settings")
    if changed:
        await js.update_stream(want)
        log.info("stream_updated", stream=name, changed=changed)
