"""numbers bootstrap: commands, the carrier's review callback route, and two background loops
(campaign status callbacks, the order sweeper)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.carrier.http_api import HttpCarrier
from libs.carrier.numbers_file import FileCarrier
from libs.obs.settings import load_settings
from libs.runtime.service import Service
from services.numbers import rpc
from services.numbers.config import NumbersSettings
from services.numbers.handlers import Numbers
from services.numbers.orders import Orders
from services.numbers.review import Review, carrier_route
from services.numbers.status_callbacks import StatusCallbacks
from services.numbers.tendlc import TenDlc


def build(env: Mapping[str, str] | None = None) -> tuple[Service, object]:
    settings = load_settings(NumbersSettings, env)
    svc = Service("numbers", settings, domain="numbers", sql_dir=Path(__file__).parent / "sql")
    carrier: HttpCarrier | FileCarrier

    async def setup(s: Service) -> None:
        nonlocal carrier
        if settings.numbers_file:
            async def taken(e164s: list[str]) -> set[str]:
                rows = await s.store.pool.fetch(
                    "SELECT e164 FROM phone_numbers WHERE e164 = ANY($1::text[]) AND status <> 'released'", e164s)
                return {r["e164"] for r in rows}

            carrier = FileCarrier(settings.numbers_file, taken, settings.numbers_file_vetting_score)
        else:
            carrier = HttpCarrier(settings.sim_url, settings.sim_api_token)
        s.on_stop(carrier.close)
        orders = Orders(s.store, settings, carrier, s.rpc)
        review = Review(s.store)
        await s.rpc_server.serve(rpc.commands(Numbers(s.store, settings, carrier), orders,
                                              TenDlc(s.store, settings, carrier), review))
        s.http.router.add_routes([carrier_route(settings, review)])  # setup runs before the HTTP server starts
        s.task(orders.sweep_orders)
        s.task(StatusCallbacks(s.store, settings).run)

    return svc, setup
