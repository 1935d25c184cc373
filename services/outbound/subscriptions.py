"""The consumers outbound owns (a registry of frozen specs), and the cancellations they make: an opt-out
cancels the contact's pending messages, a released number its own, and quiet hours turned off release
the messages they alone held."""

from __future__ import annotations

from datetime import datetime

import structlog

from libs.bus.consumer import ConsumerSpec
from libs.store.eventstore import EventStore
from libs.store.processed import claim
from proto.base import Event, rfc3339, utcnow
from proto.events.carrier import ReceiptReceived
from proto.events.compliance import CompliancePolicyChanged, OptOutRecorded
from proto.events.numbers import PhoneNumberReleased
from proto.events.outbound import MessageQueued, MessageScheduled
from services.outbound import model, receipts, store

log = structlog.get_logger(__name__)

OPT_OUT_CONSUMER = "outbound-optouts"
RELEASE_CONSUMER = "outbound-number-releases"
POLICY_CONSUMER = "outbound-quiet-hours"
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
            " ORDER BY id FOR UPDATE",
            ev.org_id, ev.contact_number,
        )
        await store.cancel(conn, es, list(rows), "RECIPIENT_OPTED_OUT", reason, ev, ev.event_id)
    if rows:
        log.info("messages_canceled_for_opt_out", org_id=ev.org_id, count=len(rows))
    return len(rows)


async def cancel_for_release(es: EventStore, ev: PhoneNumberReleased) -> int:
    """A released number sends nothing more: its messages not yet at the carrier end canceled
    (NUMBER_RELEASED) and refunded, instead of waiting in the queue until they expire."""
    async with es.transaction() as conn:
        if not await claim(conn, RELEASE_CONSUMER, ev.event_id):
            return 0
        rows = await conn.fetch(
            f"SELECT {store.COLUMNS} FROM messages WHERE phone_number_id = $1 AND org_id = $2::uuid"
            " AND status IN ('scheduled', 'queued') ORDER BY id FOR UPDATE",
            ev.phone_number_id, ev.org_id,
        )
        await store.cancel(conn, es, list(rows), model.NUMBER_RELEASED, model.NUMBER_RELEASED, ev)
    if rows:
        log.info("messages_canceled_for_release", org_id=ev.org_id, phone_number_id=ev.phone_number_id,
                 count=len(rows))
    return len(rows)


async def release_quiet_hours(es: EventStore, ev: CompliancePolicyChanged, now: datetime | None = None) -> int:
    """Quiet hours turned off: the organization's messages scheduled because of quiet hours alone go now
    (or at their own send_at, if that is still ahead). The final check before the carrier still runs."""
    if ev.quiet_hours_enabled or "quiet_hours_enabled" not in ev.changed:
        return 0
    now = now or utcnow()
    reason = "quiet hours turned off"
    queued = 0
    async with es.transaction() as conn:
        if not await claim(conn, POLICY_CONSUMER, ev.event_id):
            return 0
        rows = await conn.fetch(
            f"SELECT {store.COLUMNS} FROM messages WHERE org_id = $1::uuid AND status = 'scheduled'"
            " AND deferred_by IS NOT NULL ORDER BY id FOR UPDATE", ev.org_id)
        for row in rows:
            if not model.released_when_quiet_hours_off(row["deferred_by"]):
                continue
            due = model.due_without_quiet_hours(row["send_at"], now)
            if due >= row["next_attempt_at"]:
                continue
            expires = model.expires_at(due, row["validity_seconds"])
            ev_m: MessageQueued | MessageScheduled
            if due <= now:
                ev_m = MessageQueued(org_id=row["org_id"], message_id=row["id"], reason=reason,
                                     causation_id=ev.event_id, correlation_id=ev.correlation_id)
                await store.transition(conn, es, row, ev_m, "queued", reason, next_attempt_at=due,
                                       expires_at=expires, deferred_by=None)
                queued += 1
            else:
                why = f"{reason}; waiting for send_at"
                ev_m = MessageScheduled(org_id=row["org_id"], message_id=row["id"], send_at=rfc3339(row["send_at"]),
                                        reason=why, causation_id=ev.event_id, correlation_id=ev.correlation_id)
                await store.transition(conn, es, row, ev_m, "scheduled", why, next_attempt_at=due, expires_at=expires,
                                       deferred_by=None)
        if queued:
            await conn.execute("SELECT pg_notify($1, '')", store.due_channel(es.schema))
    if rows:
        log.info("quiet_hours_released", org_id=ev.org_id, queued=queued, examined=len(rows))
    return queued


def specs(es: EventStore) -> list[ConsumerSpec]:
    async def on_opt_out(ev: Event) -> None:
        if isinstance(ev, OptOutRecorded):
            await cancel_for_opt_out(es, ev)

    async def on_release(ev: Event) -> None:
        if isinstance(ev, PhoneNumberReleased):
            await cancel_for_release(es, ev)

    async def on_policy(ev: Event) -> None:
        if isinstance(ev, CompliancePolicyChanged):
            await release_quiet_hours(es, ev)

    async def on_receipt(ev: Event) -> None:
        if isinstance(ev, ReceiptReceived):
            await receipts.consume(es, RECEIPTS_CONSUMER, [ev])

    async def on_receipts(evs: list[Event]) -> set[str]:
        return await receipts.consume(es, RECEIPTS_CONSUMER, [e for e in evs if isinstance(e, ReceiptReceived)])

    return [
        ConsumerSpec(durable=OPT_OUT_CONSUMER, events=(OptOutRecorded,), handler=on_opt_out),
        ConsumerSpec(durable=RELEASE_CONSUMER, events=(PhoneNumberReleased,), handler=on_release),
        # (a released number's pending messages are canceled and refunded)
        ConsumerSpec(durable=POLICY_CONSUMER, events=(CompliancePolicyChanged,), handler=on_policy),
        # (quiet hours turned off release the messages they alone held)
        ConsumerSpec(durable=RECEIPTS_CONSUMER, events=(ReceiptReceived,), handler=on_receipt, absorb=on_receipts,
                     batch=100, fetch_timeout_s=0.02),
        # (the carrier service's receipts: delivered / undelivered)
    ]
