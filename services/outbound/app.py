"""outbound bootstrap: commands, the opt-out consumer, the receipt endpoint, the dispatcher and the
status-callback sender."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.carrier.adapter import HttpCarrier
from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.outbound import ops_metrics, receipts, rpc, subscriptions
from services.outbound.callbacks import CallbackSender
from services.outbound.config import OutboundSettings
from services.outbound.dispatcher import Dispatcher
from services.outbound.handlers import Outbound


def build(env: Mapping[str, str] | None = None) -> tuple[Service, object]:
    settings = load_settings(OutboundSettings, env)
    svc = Service("outbound", settings, domain="outbound", sql_dir=Path(__file__).parent / "sql")

    async def setup(s: Service) -> None:
        carrier = HttpCarrier(settings.sim_url, settings.sim_api_token, timeout_s=settings.carrier_timeout_s)
        dispatcher = Dispatcher(s.store, s.rpc, carrier, settings)
        sender = CallbackSender(s.store, s.rpc, settings)
        outbound = Outbound(s.rpc, s.store, settings, wake=dispatcher.arrived, dispatching=lambda: dispatcher.leading)
        await outbound.follow_numbers(s.nc, s.subjects)
        await rpc.register(s, outbound)
        for spec in subscriptions.specs(s.store):
            s.consumer(spec)
        dlrs = receipts.Receipts(s.store, settings.sim_callback_secret)
        s.http.router.add_post("/carrier/dlr", dlrs.dlr)
        s.task(dispatcher.run)
        for q in ops_metrics.QUERIES:
            s.gauge_query(q)
        s.task(sender.run)
        s.on_stop(outbound.close)
        s.on_stop(carrier.close)
        s.on_stop(sender.close)
        s.on_stop(dlrs.close)

    return svc, setup
