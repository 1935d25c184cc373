"""The consumers compliance owns (a registry of frozen specs)."""

from __future__ import annotations

from libs.bus.consumer import ConsumerSpec
from libs.runtime.service import Service
from services.compliance.handlers import KEYWORDS_CONSUMER, Compliance


def register(svc: Service, h: Compliance) -> None:
    svc.consumer(ConsumerSpec(
        durable=KEYWORDS_CONSUMER,
        domain="inbound",
        filter="message.inbound_message_received.*",
        handler=h.on_inbound,
        absorb=h.absorb_inbound,
    ))
    """Every inbound text: keywords (STOP, START, YES, HELP...), plain-language opt-outs, double opt-in
    replies, and the contact's last-message time for the conversation window. Idempotent per event id;
    the replies go out under deterministic message ids, so a redelivery re-asks, never re-sends."""
