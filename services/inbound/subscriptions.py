"""The consumers inbound owns: the carrier service's inbound texts (``inbound-texts``); the conversations
read model's two consumers are in conversations.py. Who owns a number
and where its webhook goes are asked of numbers (``resolve_inbound``) at ingest and again at each delivery
attempt, so a changed URL or a rotated secret applies at once. The webhook queue is this service's own
table (services/inbound/webhooks.py), not a stream consumer, so that retries can be scheduled hours ahead."""

from __future__ import annotations

import structlog

from libs.bus.consumer import ConsumerSpec
from proto.base import Event
from proto.events.carrier import InboundTextReceived
from services.inbound.handlers import Inbound, Unavailable

log = structlog.get_logger(__name__)

TEXTS_CONSUMER = "inbound-texts"


def specs(h: Inbound) -> list[ConsumerSpec]:
    """Each text is stored once per carrier message id (a redelivered event is a duplicate, acknowledged);
    while numbers cannot say who owns the number, or compliance cannot record its keyword effect, the event is
    retried (nak with backoff), never lost."""

    async def one(ev: Event) -> None:
        if isinstance(ev, InboundTextReceived):
            outcome = await h.ingest(ev)
            log.debug("inbound_text_ingested", carrier_message_id=ev.carrier_message_id, outcome=outcome)

    async def many(evs: list[Event]) -> set[str]:
        texts = [e for e in evs if isinstance(e, InboundTextReceived)]
        results = await h.ingest_many(texts)
        done = {e.event_id for e in evs if not isinstance(e, InboundTextReceived)}
        for e, r in zip(texts, results, strict=True):
            if isinstance(r, Unavailable):
                continue  # handled one by one: nak'd with backoff
            if isinstance(r, BaseException):
                raise r
            done.add(e.event_id)
        return done

    return [ConsumerSpec(durable=TEXTS_CONSUMER, events=(InboundTextReceived,), handler=one, absorb=many, batch=256,
                         pipeline=2)]
