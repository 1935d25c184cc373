"""compliance bootstrap."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.compliance import rpc, subscriptions
from services.compliance.config import ComplianceSettings
from services.compliance.gate import Gate
from services.compliance.handlers import Compliance
from services.compliance.senders import Senders
from services.compliance.views import Views


def build(env: Mapping[str, str] | None = None) -> tuple[Service, object]:
    settings = load_settings(ComplianceSettings, env)
    svc = Service("compliance", settings, domain="compliance", sql_dir=Path(__file__).parent / "sql")
    senders = Senders(svc, settings.sender_cache_s)
    gate = Gate(svc, settings, senders)
    h = Compliance(svc, settings, senders)
    subscriptions.register(svc, h)
    svc.task(h.maintenance)

    async def setup(s: Service) -> None:
        gate.start()
        await senders.follow(s.nc, s.subjects)
        await s.rpc_server.serve(rpc.commands(gate, h, Views(s, h)))
        s.on_stop(gate.stop)

    return svc, setup
