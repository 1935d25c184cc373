"""outbound bootstrap: commands, the opt-out and receipt consumers, the dispatcher (submitting through
the carrier service) and the status-callback sender."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.carrier.client import CarrierClient
from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.outbound import ops_metrics, rpc, subscriptions
from services.outbound.config import OutboundSettings
from services.outbound.dispatcher import Dispatcher
from services.outbound.handlers import Outbound
from services.outbound.status_callbacks import CallbackSender


def build(env: Mapping[str, str] | None = None) -> tuple[Service, object]:
    settings = load_settings(OutboundSettings, env)
    svc = Service("outbound", settings, domain="outbound", sql_dir=Path(__file__).parent / "sql")

    async def setup(s: Service) -> None:
        carrier = CarrierClient(s.rpc, timeout_s=settings.carrier_timeout_s)
        dispatcher = Dispatcher(s.store, s.rpc, carrier, settings)
        sender = CallbackSender(s.store, s.rpc, settings)
        outbound = Outbound(s.rpc, s.store, settings, wake=dispatcher.arrived, dispatching=lambda: dispatcher.leading)
        await outbound.follow_numbers(s.nc, s.subjects)
        await s.rpc_server.serve(rpc.commands(outbound))
        for spec in subscriptions.specs(s.store, outbound.send, settings.reply_max_age_s):
            s.consumer(spec)
        s.task(dispatcher.run)
        for q in ops_metrics.QUERIES:
            s.gauge_query(q)
        s.task(sender.run)
        s.on_stop(outbound.close)
        s.on_stop(carrier.close)
        s.on_stop(sender.close)

    return svc, setup
