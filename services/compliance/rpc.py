"""am.cmd.compliance.* endpoints. evaluate_send is on every send's path (at accept and at submit), so it
gets its own, larger concurrency limit."""

from __future__ import annotations

from typing import TypeVar

import msgspec
import structlog

from libs.runtime.service import Service
from proto.commands import compliance as c
from services.compliance import consent
from services.compliance.gate import Gate
from services.compliance.handlers import Compliance
from services.compliance.views import Views

log = structlog.get_logger(__name__)
T = TypeVar("T")
_enc = msgspec.json.Encoder()


async def register(svc: Service, gate: Gate, h: Compliance, v: Views) -> None:
    await svc.rpc_server.register("evaluate_send", c.EvaluateSend, gate.evaluate_send,
                                  concurrency=gate.settings.gate_concurrency)
    await svc.rpc_server.register("evaluate_sends", c.EvaluateSends, gate.evaluate_sends,
                                  concurrency=gate.settings.gate_concurrency)

    async def record_consent(cmd: c.RecordConsent) -> c.ConsentView:
        return await v.consent(cmd.org_id, await consent.record_consent(h, cmd))

    async def revoke_consent(cmd: c.RevokeConsent) -> c.ConsentView:
        return await v.consent(cmd.org_id, await consent.revoke_consent(h, cmd))

    r = svc.rpc_server
    await r.register("screen_inbound", c.ScreenInbound, h.screen_inbound)
    await r.register("request_double_opt_in", c.RequestDoubleOptIn, h.request_double_opt_in)
    await r.register("record_consent", c.RecordConsent, record_consent)
    await r.register("revoke_consent", c.RevokeConsent, revoke_consent)
    await r.register("get_consent", c.GetConsent, v.get_consent)
    await r.register("list_consent", c.ListConsent, v.list_consent)
    await r.register("export_consent", c.ExportConsent, v.export)
    await r.register("list_decisions", c.ListDecisions, v.decisions)
    await r.register("get_settings", c.GetSettings, v.get_settings)
    await r.register("update_settings", c.UpdateSettings, v.update_settings)
