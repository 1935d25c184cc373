"""The consumers outbound owns (a registry of frozen specs)."""

from __future__ import annotations

import structlog

from libs.bus.consumer import ConsumerSpec
from libs.store.eventstore import EventStore
from libs.store.processed import claim
from proto.base import Event
from proto.events.carrier import ReceiptReceived
from proto.events.compliance import OptOutRecorded
from proto.events.outbound import MessageCanceled
from services.outbound import receipts, store

log = structlog.get_logger(__name__)

OPT_OUT_CONSUMER = "outbound-optouts"
RECEIPTS_CONSUMER = "outbound-receipts"


async def cancel_for_opt_out(es: EventStore, ev: OptOutRecorded) -> int:
    """Cancel every message of the organization to the contact that has not reached the carrier yet
    (the opt-out confirmation itself excepted); accounts refunds each on MessageCanceled."""
    reason = "the recipient opted out" + (f" ({ev.source})" if ev.source else "")
    async with es.transaction() as conn:
        if not await claim(conn, OPT_OUT_CONSUMER, ev.event_id):
            return 0
        rows = await conn.fetch(
            f"SELECT {store.COLUMNS} FROM messages WHERE org_id = $1::uuid AND to_number = $2"
            " AND status IN ('scheduled', 'queued') AND kind <> 'opt_out_confirmation'"
            " ORDER BY created_at FOR UPDATE",
            ev.org_id, ev.contact_number,
        )
        for row in rows:
            cancel = MessageCanceled(org_id=row["org_id"], message_id=row["id"], reason=reason,
                                     reservation_id=row["id"], opt_out_event_id=ev.event_id,
                                     causation_id=ev.event_id, correlation_id=ev.correlation_id)
            await store.transition(conn, es, row, cancel, "canceled", reason, error_code="RECIPIENT_OPTED_OUT",
                                   claimed_until=None, claim_id=None)
    if rows:
        log.info("messages_canceled_for_opt_out", org_id=ev.org_id, count=len(rows))
    return len(rows)


def specs(es: EventStore) -> list[ConsumerSpec]:
    async def on_opt_out(ev: Event) -> None:
        if isinstance(ev, OptOutRecorded):
            await cancel_for_opt_out(es, ev)

    async def on_receipt(ev: Event) -> None:
        if isinstance(ev, ReceiptReceived):
            await receipts.consume(es, RECEIPTS_CONSUMER, [ev])

    async def on_receipts(evs: list[Event]) -> set[str]:
        return await receipts.consume(es, RECEIPTS_CONSUMER, [e for e in evs if isinstance(e, ReceiptReceived)])

    return [ConsumerSpec(durable=OPT_OUT_CONSUMER, domain="compliance", filter="contact.opt_out_recorded.*",
                         handler=on_opt_out),
            ConsumerSpec(durable=RECEIPTS_CONSUMER, domain="carrier", filter="submission.receipt_received.*",
                         handler=on_receipt, absorb=on_receipts, batch=100, fetch_timeout_s=0.02)]
