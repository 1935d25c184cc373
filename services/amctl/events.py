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


def ops_credentials() -> dict[str, Any]:
    """amctl connects as the read-only ``ops`` user: AM_NATS_USER / AM_NATS_PASSWORD (and AM_NATS_TLS_*),
    else the ``ops`` entry of ``<AM_DATA_DIR or .data>/nats/credentials.json`` written by ``make run``."""
    user, password = os.environ.get("AM_NATS_USER", ""), os.environ.get("AM_NATS_PASSWORD", "")
    if not user:
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


async def _connect(url: str) -> Any:
    try:
        return await nats.connect(url, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0,
                                  **ops_credentials())
    except Exception as exc:
        raise SystemExit(f"cannot reach NATS at {url}: {exc!r} (is `make run` up? set AM_NATS_URL, and "
                         "AM_NATS_USER / AM_NATS_PASSWORD for the ops user)") from exc


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
               as_json: bool, limit: int | None = None) -> None:
    subjects = Subjects(root)
    flts = filters_for(subjects, pattern, org)
    if not flts:
        raise SystemExit(f"{pattern!r} matches no event stream (subjects look like {root}.<domain>.>)")
    nc = await _connect(nats_url)
    js = nc.jetstream()
    queue: asyncio.Queue[Any] = asyncio.Queue()

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
            print(msg.data.decode() if as_json else line(msg), flush=True)
            n += 1
    finally:
        await nc.close()


async def streams(nats_url: str, root: str) -> None:
    subjects = Subjects(root)
    nc = await _connect(nats_url)
    js = nc.jetstream()
    print(f"{'stream':<18}{'messages':>10}{'last seq':>10}   consumers (pending / ack pending)")
    for d in DOMAINS:
        name = subjects.stream_name(d)
        try:
            info = await js.stream_info(name)
        except Exception:
            print(f"{name:<18}{'-':>10}")
            continue
        cons = []
        for c in await js.consumers_info(name):
            if c.config.durable_name:
                cons.append(f"{c.name} ({c.num_pending}/{c.num_ack_pending})")
        print(f"{name:<18}{info.state.messages:>10}{info.state.last_seq:>10}   {', '.join(cons) or '-'}")
    await nc.close()
