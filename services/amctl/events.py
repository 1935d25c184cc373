"""amctl events tail / amctl streams: read JetStream directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats
from nats.js.api import ConsumerConfig, DeliverPolicy

from libs.bus.auth import OPS_USER
from libs.bus.conn import tls_context
from proto.subjects import DOMAINS, Subjects

_SINCE = re.compile(r"^(\d+)([smhd])$")


def parse_since(value: str) -> datetime:
    m = _SINCE.match(value)
    if not m:
        raise SystemExit(f"--since takes e.g. 30s, 10m, 2h, 1d (got {value!r})")
    n, unit = int(m.group(1)), m.group(2)
    delta = {"s": timedelta(seconds=n), "m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
    return datetime.now(UTC) - delta


def filters_for(subjects: Subjects, pattern: str, org: str | None) -> dict[str, str]:
    """Per domain stream, the consumer filter for a user's subject pattern (and org)."""
    root = subjects.root
    out: dict[str, str] = {}
    for d in DOMAINS:
        prefix = f"{root}.{d}."
        if pattern in (">", f"{root}.>", f"{root}.*.>"):
            f = f"{prefix}>"
        elif pattern.startswith(prefix) or pattern == f"{root}.{d}.>":
            f = pattern
        else:
            continue
        if org:
            f = f if not f.endswith(".>") else f[:-2] + ".*.*." + org
            if f.count(".") < 4:
                f = f"{prefix}*.*.{org}"
        out[d] = f
    return out


CONNECT_TIMEOUT_S = 3.0


def ops_credentials(url: str = "") -> dict[str, Any]:
    """amctl connects as the user the NATS URL names (``nats://user:password@host``), else AM_NATS_USER /
    AM_NATS_PASSWORD, else as the read-only ``ops`` user of ``<AM_DATA_DIR or .data>/nats/credentials.json``
    written by ``make run`` (and AM_NATS_TLS_* in each case). The URL's user comes first: a ``make run``
    stack's file in the working folder must not log amctl in to another server under the wrong name."""
    user, password = os.environ.get("AM_NATS_USER", ""), os.environ.get("AM_NATS_PASSWORD", "")
    if urlsplit(url).username:
        user, password = "", ""  # nats.py takes them from the URL
    elif not user:
        path = Path(os.environ.get("AM_DATA_DIR", ".data")) / "nats" / "credentials.json"
        with contextlib.suppress(OSError, ValueError):
            password = str(json.loads(path.read_text())[OPS_USER])
            user = OPS_USER
    out: dict[str, Any] = {"user": user, "password": password} if user else {}
    tls = tls_context(os.environ.get("AM_NATS_TLS_CA", ""), os.environ.get("AM_NATS_TLS_CERT", ""),
                      os.environ.get("AM_NATS_TLS_KEY", ""))
    if tls is not None:
        out["tls"] = tls
    return out


async def _connect(url: str, on_closed: Any = None) -> Any:
    """One attempt, a few seconds at most; never a reconnect loop. Credentials: see ``ops_credentials``."""

    async def quiet(_: Exception) -> None:
        return None

    async def closed() -> None:
        if on_closed is not None:
            on_closed()

    await _probe(url)
    kw = ops_credentials(url)
    try:
        return await asyncio.wait_for(
            nats.connect(url, connect_timeout=CONNECT_TIMEOUT_S, allow_reconnect=False, max_reconnect_attempts=0,
                         error_cb=quiet, closed_cb=closed, **kw),
            CONNECT_TIMEOUT_S + 1,
        )
    except (Exception, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise SystemExit(f"amctl: cannot reach NATS at {url}: {reason} "
                         "(is the stack up? --nats, or AM_NATS_URL / AM_NATS_PORT)") from None


async def _probe(url: str) -> None:
    """A plain TCP connect to each server of the URL first: a refused or unroutable port is reported at
    once and by its real reason, instead of as a client timeout."""
    errors: list[str] = []
    for server in (u.strip() for u in url.split(",")):
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222), CONNECT_TIMEOUT_S)
        except TimeoutError:
            errors.append(f"no answer within {CONNECT_TIMEOUT_S:g}s")
            continue
        except OSError as exc:
            errors.append(os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__)
            continue
        writer.close()
        return
    raise SystemExit(f"amctl: cannot reach NATS at {url}: {'; '.join(errors)} "
                     "(is the stack up? --nats, or AM_NATS_URL / AM_NATS_PORT)")


def subject_filter(root: str, domain: str, event_type: str | None, org: str | None) -> str:
    """am.<domain>.<aggregate>.<event>.<org>: `--type message.delivered` (or `delivered`), `--org`."""
    aggregate, event = "*", "*"
    if event_type:
        if "." in event_type:
            aggregate, event = event_type.split(".", 1)
        else:
            event = event_type
    if aggregate == "*" and event == "*" and not org:
        return f"{root}.{domain}.>"
    return f"{root}.{domain}.{aggregate}.{event}.{org or '*'}"


def line(msg: Any) -> str:
    try:
        data = msgspec.json.decode(msg.data)
    except Exception:
        data = {}
    ts = str(data.get("occurred_at", ""))[11:23]
    keys = [f"{k}={v}" for k, v in data.items() if k.endswith("_id") and k not in ("event_id", "causation_id",
                                                                                   "correlation_id") and v]
    extra = [f"{k}={data[k]}" for k in ("status", "from", "to", "contact_number", "e164") if data.get(k)]
    return f"{ts}  {msg.subject}  {data.get('type', '?')}  {' '.join(keys + extra)}"


async def tail(nats_url: str, root: str, pattern: str, org: str | None, since: str | None, from_seq: int | None,
               as_json: bool, limit: int | None = None, domain: str | None = None,
               event_type: str | None = None) -> None:
    subjects = Subjects(root)
    if domain is not None and domain not in DOMAINS:
        raise SystemExit(f"amctl: --domain is one of {', '.join(DOMAINS)} (got {domain!r})")
    if domain or event_type:
        flts = {d: subject_filter(root, d, event_type, org) for d in ([domain] if domain else DOMAINS)}
    else:
        flts = filters_for(subjects, pattern, org)
    if not flts:
        raise SystemExit(f"{pattern!r} matches no event stream (subjects look like {root}.<domain>.>)")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    nc = await _connect(nats_url, on_closed=lambda: queue.put_nowait(None))
    js = nc.jetstream()

    async def cb(msg: Any) -> None:
        await queue.put(msg)

    for domain, flt in flts.items():
        if since:
            cfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME,
                                 opt_start_time=parse_since(since))
        elif from_seq:
            cfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=from_seq)
        else:
            cfg = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        try:
            await js.subscribe(flt, stream=subjects.stream_name(domain), ordered_consumer=True, config=cfg, cb=cb)
        except Exception as exc:
            print(f"# {subjects.stream_name(domain)}: {exc}", file=sys.stderr)
    n = 0
    try:
        while limit is None or n < limit:
            msg = await queue.get()
            if msg is None:
                raise SystemExit(f"amctl: lost the connection to NATS at {nats_url}")
            print(msg.data.decode() if as_json else line(msg), flush=True)
            n += 1
    finally:
        await nc.close()


def _size(n: int | None) -> str:
    if n is None or n < 0:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _age(seconds: float | None) -> str:
    if not seconds:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


async def streams(nats_url: str, root: str) -> None:
    """Per stream: messages, bytes, replicas and limits; per durable consumer: pending (not yet
    delivered), ack pending (delivered, not acknowledged) and redelivered counts."""
    subjects = Subjects(root)
    nc = await _connect(nats_url)
    js = nc.jetstream()
    w = max(16, *(len(subjects.stream_name(d)) + 2 for d in DOMAINS))
    print(f"{'stream':<{w}}{'messages':>10}{'bytes':>11}{'replicas':>9}{'max age':>9}{'max bytes':>11}")
    consumers: list[str] = []
    try:
        for d in DOMAINS:
            name = subjects.stream_name(d)
            try:
                info = await js.stream_info(name)
            except Exception:
                print(f"{name:<{w}}{'(none)':>10}")
                continue
            cfg = info.config
            print(f"{name:<{w}}{info.state.messages:>10}{_size(info.state.bytes):>11}{cfg.num_replicas or 1:>9}"
                  f"{_age(cfg.max_age):>9}{_size(cfg.max_bytes):>11}")
            for c in await js.consumers_info(name):
                if c.config.durable_name:
                    consumers.append(f"{name:<{w}}{c.name:<40} {c.num_pending or 0:>9}{c.num_ack_pending or 0:>13}"
                                     f"{c.num_redelivered or 0:>13}")
    finally:
        await nc.close()
    print()
    print(f"{'stream':<{w}}{'consumer':<40} {'pending':>9}{'ack pending':>13}{'redelivered':>13}")
    print("\n".join(consumers) if consumers else "(no durable consumers)")
