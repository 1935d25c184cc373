"""inbound bootstrap: commands, the consumer of the carrier service's inbound texts, and the webhook
delivery worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from libs.obs.settings import load_settings
from libs.runtime.service import Service
from libs.store.db import create_pool
from libs.store.eventstore import EventStore
from services.inbound import ops_metrics, rpc, subscriptions
from services.inbound.config import InboundSettings
from services.inbound.conversations import Conversations
from services.inbound.handlers import Inbound
from services.inbound.webhooks import DeliveryWorker


def build(env: Mapping[str, str] | None = None) -> tuple[Service, Callable[[Service], Awaitable[None]]]:
    settings = load_settings(InboundSettings, env)
    svc = Service("inbound", settings, domain="inbound", sql_dir=Path(__file__).parent / "sql")

    async def setup(s: Service) -> None:
        inbound = Inbound(s.store, s.rpc, settings)
        await inbound.follow_numbers(s.nc, s.subjects)
        # a fixed-size pool: a burst of MO finds its connections open instead of opening them then
        worker_pool = await create_pool(settings.database_url, s.schema, settings.inbound_webhook_db_pool,
                                        min_size=settings.inbound_webhook_db_pool, pgbouncer=settings.db_pgbouncer)
        worker = DeliveryWorker(inbound, EventStore(worker_pool, s.schema, s.subjects, s.name, waker=s.relay), settings)
        inbound.on_queued = worker.offer
        conversations = Conversations(s.store)
        await s.rpc_server.serve(rpc.commands(inbound, conversations))
        for spec in [*subscriptions.specs(inbound), *conversations.specs()]:
            s.consumer(spec)
        for q in ops_metrics.QUERIES:
            s.gauge_query(q)
        s.task(worker.run)
        s.on_stop(inbound.writer.stop)
        s.on_stop(worker.close)
        s.on_stop(worker_pool.close)

    return svc, setup
