"""The NATS permission table (libs/bus/auth.py) covers what the code does: every stream a service reads
with a durable consumer, every domain whose commands it sends, every domain whose events it follows on
core NATS. The tests' NATS writes the table with the subject root as a wildcard (stream names too), so an
end-to-end test cannot see a stream missing for root ``am``; this scan of the sources can."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from libs.bus.auth import ROLES, permissions

SERVICES = Path(__file__).resolve().parent.parent / "services"
_CONSUMER = re.compile(r"ConsumerSpec\((?:[^()]|\([^()]*\))*?domain=\"([a-z_]+)\"", re.S)
_CALL = re.compile(r"\.(?:call|call_many)\(\s*\"([a-z_]+)\"\s*,", re.S)
_FOLLOW = re.compile(r"subjects\.(?:event|domain_wildcard)\(\s*\"([a-z_]+)\"")


def _sources(service: str) -> str:
    return "\n".join(p.read_text() for p in (SERVICES / service).rglob("*.py")
                     if "tests" not in p.parts and p.name != "bench.py")


@pytest.mark.parametrize("service", sorted(s for s in ROLES if (SERVICES / s).is_dir()))
def test_the_table_covers_the_code(service: str) -> None:
    role = ROLES[service]
    text = _sources(service)
    own = {role.domain} if role.domain else set()
    consumed = set(_CONSUMER.findall(text))
    assert consumed <= set(role.consumes), f"{service} reads streams {consumed - set(role.consumes)}: add them"
    called = set(_CALL.findall(text)) - own
    assert called <= set(role.calls), f"{service} calls {called - set(role.calls)}: add them"
    followed = set(_FOLLOW.findall(text)) - own
    assert followed <= {f.split(".")[0] for f in role.follows}, f"{service} follows {followed}"
    pub = permissions("am")[service]["publish"]["allow"]
    for d in consumed:
        assert f"$JS.API.CONSUMER.MSG.NEXT.AM_{d.upper()}.>" in pub


def test_every_service_that_uses_nats_has_a_user() -> None:
    uses_nats = {p.parent.name for p in SERVICES.glob("*/app.py") if "Service(" in p.read_text()}
    assert uses_nats <= set(ROLES), f"services without a NATS user: {uses_nats - set(ROLES)}"
