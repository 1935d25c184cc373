"""am.cmd.compliance.* endpoints. evaluate_send is on every send's path (at accept and at submit), so it
gets its own, larger concurrency limit."""

from __future__ import annotations

from libs.bus.rpc import Bounded, Registry
from proto.commands import compliance as c
from services.compliance import consent
from services.compliance.gate import Gate
from services.compliance.handlers import Compliance
from services.compliance.views import Views


def commands(gate: Gate, h: Compliance, v: Views) -> Registry:
    """What this service answers: each command class with its handler."""
    limit = gate.settings.gate_concurrency

    async def record_consent(cmd: c.RecordConsent) -> c.ConsentView:
        return await v.consent(cmd.org_id, await consent.record_consent(h, cmd))

    async def revoke_consent(cmd: c.RevokeConsent) -> c.ConsentView:
        return await v.consent(cmd.org_id, await consent.revoke_consent(h, cmd))

    return {
        c.EvaluateSend: Bounded(gate.evaluate_send, concurrency=limit),
        c.EvaluateSends: Bounded(gate.evaluate_sends, concurrency=limit),
        c.ScreenInbound: h.screen_inbound,
        c.RequestDoubleOptIn: h.request_double_opt_in,
        c.RecordConsent: record_consent,
        c.RevokeConsent: revoke_consent,
        c.GetConsent: v.get_consent,
        c.ListConsent: v.list_consent,
        c.ExportConsent: v.export,
        c.ListDecisions: v.decisions,
        c.GetSettings: v.get_settings,
        c.UpdateSettings: v.update_settings,
    }
