"""carrier bootstrap: the adapter (SMPP when AM_SMPP_URL is set, else the HTTP carrier API), its
commands, the HTTP API's callback routes, the inbound-parts sweeper; unbind on stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import structlog

from libs.carrier.http_api import HttpCarrier
from libs.obs.settings import SettingsError, load_settings
from libs.runtime.service import Service
from libs.smpp import pdu
from libs.smpp.session import Session
from services.carrier import carrier_callbacks, rpc
from services.carrier.adapters import Adapter, HttpAdapter, SmppAdapter
from services.carrier.config import CarrierServiceSettings, SmppTarget, Timing
from services.carrier.esme import Esme
from services.carrier.handlers import Carrier
from services.carrier.subscriptions import CONSUMERS

log = structlog.get_logger(__name__)


def build(env: Mapping[str, str] | None = None) -> tuple[Service, Callable[[Service], Awaitable[None]]]:
    settings = load_settings(CarrierServiceSettings, env)
    target: SmppTarget | None = None
    if settings.smpp_url:
        try:
            target = SmppTarget.parse(settings.smpp_url)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    svc = Service("carrier", settings, domain="carrier", sql_dir=Path(__file__).parent / "sql")

    async def setup(s: Service) -> None:
        carrier: Carrier | None = None

        async def on_deliver(p: pdu.Pdu, session: Session) -> int:  # the ESME's deliver_sm, once handlers exist
            assert carrier is not None
            return await carrier.deliver_sm(p, session)

        adapter: Adapter
        if target is not None:
            timing = Timing(response_timeout_s=settings.smpp_response_timeout_s,
                            reconnect_base_s=settings.smpp_reconnect_base_s,
                            reconnect_cap_s=settings.smpp_reconnect_cap_s,
                            refused_retry_s=settings.smpp_refused_retry_s,
                            throttle_backoff_s=settings.smpp_throttle_backoff_s)
            adapter = SmppAdapter(Esme(target, timing, on_deliver), settings.carrier_submit_wait_s,
                                  settings.smpp_response_timeout_s)
        else:
            adapter = HttpAdapter(HttpCarrier(settings.sim_url, settings.sim_api_token,
                                              timeout_s=settings.carrier_http_timeout_s), settings.sim_url)
        carrier = Carrier(s.store, adapter, settings)
        await s.rpc_server.serve(rpc.commands(carrier))
        s.http.add_routes(carrier_callbacks.routes(carrier, settings.sim_callback_secret))
        for spec in CONSUMERS:
            s.consumer(spec)
        s.ready_checks["upstream"] = adapter.ready
        await adapter.start()
        s.task(carrier.run_sweeper)
        s.on_stop(adapter.stop)  # unbind first: nothing more arrives
        s.on_stop(carrier.close)
        log.info("carrier_adapter", adapter=adapter.name, upstream=adapter.upstream)

    return svc, setup
