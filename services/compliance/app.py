"""compliance bootstrap."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.compliance import rpc, subscriptions
from services.compliance.config import ComplianceSettings
from services.compliance.handlers import Compliance
from services.compliance.views import Views


def build(env: Mapping[str, str] | None = None) -> tuple[Service, object]:
    settings = load_settings(ComplianceSettings, env)
    svc = Service("compliance", settings, domain="compliance", sql_dir=Path(__file__).parent / "sql")
    h = Compliance(svc, settings)
    subscriptions.register(svc, h)
    svc.task(h.maintenance)

    async def setup(s: Service) -> None:
        h.start()
        await h.follow_numbers(s.nc, s.subjects)
        await s.rpc_server.serve(rpc.commands(h, Views(s, h)))
        s.on_stop(h.stop)  # after the gate's in-flight requests (registered first) are answered

    return svc, setup
