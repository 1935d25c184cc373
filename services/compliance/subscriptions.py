"""The consumers compliance owns (a registry of frozen specs), and the two that only keep a table: a
campaign's own keywords, and sends that will never happen leaving the frequency count."""

from __future__ import annotations

from libs.bus.consumer import ConsumerSpec
from libs.runtime.service import Service
from libs.store.eventstore import EventStore
from libs.store.processed import claim
from proto.base import Event
from proto.events.inbound import InboundMessageReceived
from proto.events.numbers import (
    CampaignNumberAssigned,
    CampaignNumberRemoved,
    CampaignResubmitted,
    CampaignSubmitted,
)
from proto.events.outbound import MessageCanceled, MessageFailed, ReplyRefused
from proto.keywords import keyword_of
from services.compliance import store
from services.compliance.handlers import (
    CAMPAIGNS_CONSUMER,
    KEYWORDS_CONSUMER,
    REFUSALS_CONSUMER,
    UNCOUNT_CONSUMER,
    Compliance,
)
from services.compliance.rules import normalize


def register(svc: Service, h: Compliance) -> None:
    svc.consumer(ConsumerSpec(
        durable=KEYWORDS_CONSUMER,
        events=(InboundMessageReceived,),
        handler=h.on_consumed,
        absorb=h.absorb_consumed,
    ))
    """Every inbound text: keywords (STOP, START, YES, HELP...), plain-language opt-outs, double opt-in
    replies, and the contact's last-message time for the conversation window. Idempotent per event id;
    the replies go out under deterministic message ids, so a redelivery re-asks, never re-sends."""
    svc.consumer(ConsumerSpec(
        durable=CAMPAIGNS_CONSUMER,
        events=(CampaignSubmitted, CampaignResubmitted, CampaignNumberAssigned, CampaignNumberRemoved),
        handler=lambda ev: learn_campaign(svc.store, ev),
    ))
    """Campaigns' own opt-out and help keywords and replies, and the numbers on each campaign: a custom
    keyword texted to one of its numbers is honoured with the campaign's message. Idempotent per event."""
    svc.consumer(ConsumerSpec(
        durable=UNCOUNT_CONSUMER,
        events=(MessageCanceled, MessageFailed),
        handler=lambda ev: uncount_ended(svc.store, ev),
        deliver_new=True,
    ))
    """Canceled messages and those that failed before the carrier stop counting against frequency caps
    (only messages from now on matter: a cap looks back at most 30 days, and older ones are gone anyway)."""
    svc.consumer(ConsumerSpec(durable=REFUSALS_CONSUMER, events=(ReplyRefused,), handler=h.on_reply_refused))
    """Texts outbound refused when it consumed their event: a double opt-in whose confirmation it was ends
    (DoubleOptInExpired send_failed), whether or not its request was still waiting. Idempotent."""


async def learn_campaign(es: EventStore, ev: Event) -> None:
    """Learn a campaign's keywords and replies, and which numbers are on it; idempotent per event."""
    async with es.transaction() as conn:
        if not await claim(conn, CAMPAIGNS_CONSUMER, ev.event_id):
            return
        match ev:
            case CampaignSubmitted() | CampaignResubmitted():
                await store.save_campaign(
                    conn, ev.org_id, ev.campaign_id,
                    sorted({keyword_of(k) for k in ev.opt_out_keywords if keyword_of(k)}), ev.opt_out_message,
                    sorted({keyword_of(k) for k in ev.help_keywords if keyword_of(k)}), ev.help_message,
                    sorted({keyword_of(k) for k in ev.opt_in_keywords if keyword_of(k)}), ev.opt_in_message)
            case CampaignNumberAssigned():
                await store.put_number(conn, ev.org_id, normalize(ev.e164), ev.campaign_id)
            case CampaignNumberRemoved():
                await conn.execute("DELETE FROM campaign_numbers WHERE org_id = $1 AND e164 = $2 AND campaign_id = $3",
                                   ev.org_id, normalize(ev.e164), ev.campaign_id)
            case _:
                return


async def uncount_ended(es: EventStore, ev: Event) -> None:
    """A canceled message, or one that failed before the carrier, no longer counts against a frequency cap
    (a delete: a redelivery changes nothing)."""
    match ev:
        case MessageCanceled() | MessageFailed(reached_carrier=False):
            await store.uncount_sends(es.pool, ev.org_id, [ev.message_id])
        case _:
            return
