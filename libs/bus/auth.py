"""Who may do what on NATS: one user per service, each allowed only the subjects it needs.

The table (``permissions``) is the single source: the devstack and the test plugin write it into the
embedded nats-server's configuration, and the README documents it. Per service:

- publish its own events (``<root>.<domain>.>``, through JetStream) and the commands of its own domain
  and of the domains it calls (``<root>.cmd.<domain>.>``); answer the requests it receives (``allow_responses``);
- subscribe to its own command subjects (``<root>.cmd.<own domain>.>``), to the event subjects it follows
  on core NATS, and to ``_INBOX.>`` (replies, and what its pull consumers fetch);
- the JetStream API only for its streams (info/create/update of its own and of those it consumes) and
  for its durable consumers on the streams it reads (create, info, next, ack); the gateway also its
  idempotency KV bucket.

``ops`` (``amctl``) reads: list and describe streams, create ordered consumers on the domain streams and
receive from them; it publishes no event and only two commands (the carrier's status, and an operator's
campaign verdict). ``admin`` (tests and manual
repair only) may do anything.

With ``root="*"`` (tests, where every test has its own root) the same table is written with the root
and the stream names as wildcards.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proto.commands.carrier import GetCarrierStatus
from proto.commands.numbers import ReviewCampaign
from proto.subjects import DOMAINS, Subjects


@dataclass(frozen=True)
class Role:
    domain: str | None
    """The domain whose commands it serves and whose events it publishes (None: the gateway)."""
    calls: tuple[str, ...] = ()
    """Domains whose commands it sends."""
    consumes: tuple[str, ...] = ()
    """Domain streams it reads with durable consumers."""
    follows: tuple[str, ...] = ()
    """Event subjects below the root it subscribes to on core NATS."""
    kv: tuple[str, ...] = ()
    """KV buckets (name below the root, e.g. ``IDEMPOTENCY``)."""
    commands: tuple[str, ...] = field(default=())
    """Extra command domains it serves (besides its own)."""


ROLES: dict[str, Role] = {
    "accounts": Role("accounts", consumes=("outbound",)),
    "numbers": Role("numbers", calls=("accounts",)),
    "compliance": Role("compliance", calls=("numbers",), consumes=("inbound", "numbers", "outbound"),
                       follows=("numbers.>", "outbound.message.message_queued.*", "outbound.message.message_scheduled.*",
                                "outbound.reply.reply_refused.*")),
    "outbound": Role("outbound", calls=("accounts", "compliance", "numbers", "carrier"),
                     consumes=("compliance", "numbers", "carrier"), follows=("numbers.>",)),
    "inbound": Role("inbound", calls=("numbers", "compliance"), consumes=("carrier", "outbound", "inbound"),
                    follows=("numbers.phone_number.*.*",)),
    "carrier": Role("carrier"),
    "gateway": Role(None, calls=("accounts", "compliance", "inbound", "numbers", "outbound"),
                    follows=("accounts.api_key.api_key_revoked.*", "inbound.message.inbound_message_received.*",
                             "accounts.session.session_ended.*"),
                    kv=("IDEMPOTENCY", "KEY_USAGE")),
}
"""(Some entries serve work landing beside this table: the carrier connector service and its streams,
inbound's conversations reading outbound's and its own events, dashboard sessions, per-key usage.)"""
OPS_COMMANDS = (GetCarrierStatus, ReviewCampaign)
"""The only commands ``ops`` may send: amctl carrier status (a read), amctl campaigns review (a verdict)."""
SERVICE_USERS = tuple(ROLES)
OPS_USER = "ops"
ADMIN_USER = "admin"


def _stream(root: str, domain: str) -> str:
    return "*" if root == "*" else f"{root.upper()}_{domain.upper()}"


def _bucket(root: str, name: str) -> str:
    return "*" if root == "*" else f"{root.upper()}_{name}"


def service_permissions(role: Role, root: str) -> dict[str, Any]:
    pub: list[str] = []
    sub: list[str] = ["_INBOX.>"]
    streams = ([role.domain] if role.domain else []) + list(role.consumes)
    if role.domain:
        pub += [f"{root}.{role.domain}.>", f"{root}.cmd.{role.domain}.>"]  # (its own commands too)
        sub.append(f"{root}.cmd.{role.domain}.>")
    for d in role.calls:
        pub.append(f"{root}.cmd.{d}.>")
    for d in dict.fromkeys(streams):
        s = _stream(root, d)
        pub += [f"$JS.API.STREAM.INFO.{s}", f"$JS.API.STREAM.CREATE.{s}", f"$JS.API.STREAM.UPDATE.{s}"]
    for d in role.consumes:
        s = _stream(root, d)
        pub += [f"$JS.API.CONSUMER.CREATE.{s}", f"$JS.API.CONSUMER.CREATE.{s}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{s}.>", f"$JS.API.CONSUMER.INFO.{s}.>",
                f"$JS.API.CONSUMER.MSG.NEXT.{s}.>", f"$JS.ACK.{s}.>"]
    for f in role.follows:
        sub.append(f"{root}.{f}")
    for b in role.kv:
        bucket = _bucket(root, b)
        pub += [f"$KV.{bucket}.>", f"$JS.API.STREAM.INFO.KV_{bucket}", f"$JS.API.STREAM.CREATE.KV_{bucket}",
                f"$JS.API.STREAM.MSG.GET.KV_{bucket}", f"$JS.API.DIRECT.GET.KV_{bucket}",
                f"$JS.API.DIRECT.GET.KV_{bucket}.>"]
    if root == "*":  # tests: KV stream names are KV_<root>_<NAME>, one token; wildcard it
        pub = [p.replace("KV_*", "*") for p in pub]
    return {"publish": {"allow": list(dict.fromkeys(pub))}, "subscribe": {"allow": sub},
            "allow_responses": True}


def ops_permissions(root: str) -> dict[str, Any]:
    pub = ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST", "$JS.FC.>",
           *(Subjects(root).command(c.DOMAIN, c.NAME) for c in OPS_COMMANDS)]
    for d in DOMAINS:
        s = _stream(root, d)
        pub += [f"$JS.API.STREAM.INFO.{s}", f"$JS.API.CONSUMER.CREATE.{s}", f"$JS.API.CONSUMER.CREATE.{s}.>",
                f"$JS.API.CONSUMER.DELETE.{s}.>", f"$JS.API.CONSUMER.INFO.{s}.>", f"$JS.API.CONSUMER.NAMES.{s}",
                f"$JS.API.CONSUMER.LIST.{s}", f"$JS.API.CONSUMER.MSG.NEXT.{s}.>"]
    return {"publish": {"allow": list(dict.fromkeys(pub))}, "subscribe": {"allow": ["_INBOX.>"]}}


def permissions(root: str = "am") -> dict[str, dict[str, Any]]:
    """Every user's permissions (nats-server ``authorization.users[].permissions``)."""
    out = {name: service_permissions(role, root) for name, role in ROLES.items()}
    out[OPS_USER] = ops_permissions(root)
    out[ADMIN_USER] = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    return out


def load_or_create_credentials(path: Path) -> dict[str, str]:
    """user → password, kept in ``path`` (mode 0600) so restarts reuse them; missing users are added."""
    creds: dict[str, str] = {}
    if path.exists():
        creds = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    users = [*SERVICE_USERS, OPS_USER, ADMIN_USER]
    if any(u not in creds for u in users):
        for u in users:
            creds.setdefault(u, secrets.token_urlsafe(24))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(creds, indent=2))
        tmp.replace(path)
    return creds


def server_authorization(creds: dict[str, str], root: str) -> dict[str, Any]:
    """The ``authorization`` block of a nats-server configuration for these users."""
    perms = permissions(root)
    return {"users": [{"user": u, "password": p, "permissions": perms[u]} for u, p in creds.items() if u in perms]}


def render_conf(root: str = "am", ops_user: str = OPS_USER) -> str:
    """The ``authorization`` block of a nats-server configuration with every user's permissions and each
    password read from the server's environment (``$NATS_PASSWORD_<USER>``), for a deployment whose
    passwords live in a Secret. ``ops_user`` renames the ops user (e.g. ``amctl``)."""
    perms = permissions(root)
    lines = ["authorization {", "  users: ["]
    for user in [*ROLES, OPS_USER]:
        name = ops_user if user == OPS_USER else user
        lines.append(f"    {{user: {json.dumps(name)}, password: $NATS_PASSWORD_{name.upper()},")
        lines.append(f"     permissions: {json.dumps(perms[user])}}}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m libs.bus.auth [ROOT [OPS_USER]]: the block for a deployment
    import sys

    print(render_conf(*sys.argv[1:3]), end="")
