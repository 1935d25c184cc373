"""The consumers compliance owns (a registry of frozen specs)."""

from __future__ import annotations

from libs.bus.consumer import ConsumerSpec
from libs.runtime.service import Service
from proto.events.inbound import InboundMessageReceived
from proto.events.numbers import (
    CampaignNumberAssigned,
    CampaignNumberRemoved,
    CampaignResubmitted,
    CampaignSubmitted,
)
from proto.events.outbound import MessageCanceled, MessageFailed
from services.compliance.handlers import CAMPAIGNS_CONSUMER, KEYWORDS_CONSUMER, UNCOUNT_CONSUMER, Compliance


def register(svc: Service, h: Compliance) -> None:
    svc.consumer(ConsumerSpec(
        durable=KEYWORDS_CONSUMER,
        events=(InboundMessageReceived,),
        handler=h.on_inbound,
        absorb=h.absorb_inbound,
    ))
    """Every inbound text: keywords (STOP, START, YES, HELP...), plain-language opt-outs, double opt-in
    replies, and the contact's last-message time for the conversation window. Idempotent per event id;
    the replies go out under deterministic message ids, so a redelivery re-asks, never re-sends."""
    svc.consumer(ConsumerSpec(
        durable=CAMPAIGNS_CONSUMER,
        events=(CampaignSubmitted, CampaignResubmitted, CampaignNumberAssigned, CampaignNumberRemoved),
        handler=h.on_campaign_event,
    ))
    """Campaigns' own opt-out and help keywords and replies, and the numbers on each campaign: a custom
    keyword texted to one of its numbers is honoured with the campaign's message. Idempotent per event."""
    svc.consumer(ConsumerSpec(
        durable=UNCOUNT_CONSUMER,
        events=(MessageCanceled, MessageFailed),
        handler=h.on_message_ended,
        deliver_new=True,
    ))
    """Canceled messages and those that failed before the carrier stop counting against frequency caps
    (only messages from now on matter: a cap looks back at most 30 days, and older ones are gone anyway)."""
