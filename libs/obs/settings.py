"""Settings from the environment (``AM_`` prefix), parsed once into a frozen Struct."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec


class SettingsError(ValueError):
    """A setting is malformed; the message names the environment variable."""


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True):
    env: str = "dev"
    """dev | test | prod. dev relaxes webhook URL rules to allow http://127.0.0.1."""
    nats_url: str = "nats://127.0.0.1:14222"
    """NATS server URL(s), comma separated."""
    nats_user: str = ""
    """This service's NATS user (each service has its own, with least-privilege subject permissions)."""
    nats_password: str = ""
    """Its password (make run generates them under .data/nats/credentials.json)."""
    nats_tls_ca: str = ""
    """CA bundle (PEM path) to verify the NATS server with; setting it turns TLS on."""
    nats_tls_cert: str = ""
    """Client certificate (PEM path) for mutual TLS, with ``nats_tls_key``."""
    nats_tls_key: str = ""
    """Client private key (PEM path)."""
    database_url: str = "postgresql://postgres@127.0.0.1:15432/agentmessage"
    """PostgreSQL DSN; each service owns its own schema in it."""
    subject_root: str = "am"
    """First token of every subject, stream and schema name; tests use their own for isolation."""
    stream_replicas: int = 1
    """JetStream replicas for the streams this service provisions (3 in production)."""
    stream_max_age_days: float = 30.0
    """Oldest event a stream keeps, in days, when this service creates it."""
    stream_max_bytes: int = -1
    """Size cap of a stream (bytes; -1 = none) when this service creates it: the oldest go first."""
    stream_update_limits: bool = False
    """false: a stream's limits (age, bytes, replicas) are the operator's once it exists; a restart
    never undoes `nats stream edit`. true: every start puts the settings above back."""
    http_host: str = "127.0.0.1"
    http_port: int = 0
    """Port for /healthz, /readyz, /metrics (and the service's own HTTP endpoints); 0 = any."""
    log_level: str = "info"
    metrics_port: int = 0
    """0: /metrics is served on the service's HTTP port. Otherwise only on this port (Kubernetes: 9090,
    reachable inside the cluster only; the public Ingress routes to the gateway's HTTP port)."""
    metrics_interval_s: float = 15.0
    """How often the gauges read from the database and JetStream (outbox lag, consumer pending,
    backlogs) are refreshed; 0 turns that off."""
    events_archive_after_days: float = 0.0
    """Move the events of finished streams (a message delivered, a reservation captured, …) recorded more
    than this many days ago from ``events`` to ``events_archive`` (libs/store/archive.py); 0 = keep all
    in ``events``. Read models are kept, so the API answers for archived resources as before."""
    events_archive_interval_s: float = 3600.0
    """How often a service looks for streams to archive (when events_archive_after_days > 0)."""
    db_pgbouncer: bool = False
    """The database URL is a PgBouncer in session mode (the Kubernetes Pooler): session settings are SET
    after connecting instead of sent as startup parameters, which PgBouncer refuses."""
    db_pool_max: int = 10
    db_pool_min: int = 1
    """Connections each pool opens at start (make run opens 10): a pool that grows under a burst makes
    the burst wait for new connections."""


S = TypeVar("S", bound=msgspec.Struct)


def load_settings(cls: type[S], env: Mapping[str, str] | None = None, prefix: str = "AM_",
                  names: Mapping[str, str] | None = None) -> S:
    """Read ``<prefix><FIELD>`` for every field of ``cls`` (``names`` maps a field to another variable);
    a bad value names its variable."""
    env = os.environ if env is None else env
    names = names or {}

    def var(field: str) -> str:
        return names.get(field, f"{prefix}{field.upper()}")

    raw: dict[str, Any] = {name: env[var(name)] for name in cls.__struct_fields__ if var(name) in env}
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        field = msg.rsplit("$.", 1)[-1].rstrip("`") if "$." in msg else ""
        raise SettingsError(f"invalid setting {var(field) if field else prefix + '*'}: {msg}") from exc
