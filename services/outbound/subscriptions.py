"""The consumers outbound owns (a registry of frozen specs), and what they do: an opt-out cancels the
contact's pending messages, a released number its own, quiet hours turned off release the messages they
alone held, carrier receipts end sent messages, and compliance's replies (ReplyIssued: STOP
confirmation, HELP, keyword replies; DoubleOptInRequested: the confirmation text) are sent — or, refused,
recorded as ReplyRefused (compliance ends the double opt-in and answers its request with the error)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import cast

import asyncpg
import structlog

from libs.bus.consumer import ConsumerSpec
from libs.store import Write
from libs.store.eventstore import ConcurrencyError, EventStore
from libs.store.processed import claim
from proto.base import CommandError, Event, utcnow
from proto.commands.compliance import SendKind
from proto.commands.outbound import MessageView, SendMessage
from proto.events.carrier import ReceiptReceived
from proto.events.compliance import CompliancePolicyChanged, DoubleOptInRequested, OptOutRecorded, ReplyIssued
from proto.events.numbers import PhoneNumberReleased
from proto.events.outbound import ReplyRefused
from services.outbound import carrier_receipts, model, projection, store
from services.outbound.commands import Cancel, Command, QuietHoursOff

log = structlog.get_logger(__name__)

OPT_OUT_CONSUMER = "outbound-optouts"
RELEASE_CONSUMER = "outbound-number-releases"
POLICY_CONSUMER = "outbound-quiet-hours"
RECEIPTS_CONSUMER = "outbound-receipts"
REPLIES_CONSUMER = "outbound-replies"
_TRANSIENT = frozenset({"SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT"})

Send = Callable[[SendMessage], Awaitable[MessageView]]


def reply_of(ev: ReplyIssued | DoubleOptInRequested) -> SendMessage:
    """The text compliance issued, as a send under the message id it chose for it: a redelivered event
    asks for the same message, which the send path answers with the first one (nothing sent twice)."""
    if isinstance(ev, DoubleOptInRequested):  # our initiative: it keeps to quiet hours (the replies do not)
        return SendMessage(org_id=ev.org_id, message_id=ev.message_id, from_=ev.from_number, to=ev.contact_number,
                           text=ev.confirmation_text, kind="opt_in_request", category="conversational")
    return SendMessage(org_id=ev.org_id, message_id=ev.message_id, from_=ev.from_number, to=ev.contact_number,
                       text=ev.text, kind=cast(SendKind, ev.kind), category="transactional")


async def send_reply(es: EventStore, send: Send, ev: ReplyIssued | DoubleOptInRequested, max_age_s: float) -> None:
    """Send it; outbound or a service it needs being unreachable raises (the consumer retries), a
    definitive refusal (the number cannot send, the organization cannot pay, the contact opted out since)
    is recorded (ReplyRefused: compliance ends the double opt-in and answers its request with it), and a
    reply read more than ``max_age_s`` after it was recorded is let go."""
    if utcnow() - ev.occurred_at > timedelta(seconds=max_age_s):
        log.warning("reply_too_old", message_id=ev.message_id, org_id=ev.org_id, occurred_at=ev.occurred_at)
        return
    msg = reply_of(ev)
    try:
        view = await send(msg)
    except CommandError as exc:
        if exc.code in _TRANSIENT or exc.status >= 500:
            raise
        log.warning("reply_refused", message_id=ev.message_id, org_id=ev.org_id, code=exc.code, reason=exc.message)
        await record_refusal(es, ev, msg, exc)
        return
    log.info("reply_sent", message_id=view.id, org_id=ev.org_id, status=view.status, source_event_id=ev.event_id)


async def record_refusal(es: EventStore, ev: ReplyIssued | DoubleOptInRequested, msg: SendMessage,
                         exc: CommandError) -> None:
    """ReplyRefused, once for the message id (a redelivered event refused again records nothing more)."""
    refused = ReplyRefused(org_id=ev.org_id, message_id=ev.message_id, contact_number=ev.contact_number,
                           kind=msg.kind, source_event_id=ev.event_id, error=exc.body(),
                           request_id=ev.request_id if isinstance(ev, DoubleOptInRequested) else "",
                           causation_id=ev.event_id, correlation_id=ev.correlation_id)
    try:
        await es.write(Write().append(f"reply-{ev.message_id}", 0, [refused]))
    except ConcurrencyError:
        pass  # recorded already


async def decide_all(conn: asyncpg.Connection, es: EventStore, messages: list[model.Message],
                     cmd: Command) -> list[model.Message]:
    """``cmd`` decided for each locked message, written as one statement; answers the messages it changed."""
    writes = [projection.write_of(m, model.decide(m, cmd).events) for m in messages]
    return await projection.write(conn, es, writes)


async def cancel_for_opt_out(es: EventStore, ev: OptOutRecorded) -> int:
    """Cancel every message of the organization to the contact that has not reached the carrier yet
    (the opt-out confirmation itself excepted); accounts refunds each on MessageCanceled."""
    reason = "the recipient opted out" + (f" ({ev.source})" if ev.source else "")
    cancel = Cancel(model.RECIPIENT_OPTED_OUT, reason, ev, ev.event_id)
    async with es.transaction() as conn:
        if not await claim(conn, OPT_OUT_CONSUMER, ev.event_id):
            return 0
        pending = await store.lock_where(conn, "org_id = $1::uuid AND to_number = $2 AND status IN ('scheduled',"
                                         " 'queued') AND kind <> 'opt_out_confirmation'", ev.org_id, ev.contact_number)
        canceled = await decide_all(conn, es, pending, cancel)
    if canceled:
        log.info("messages_canceled_for_opt_out", org_id=ev.org_id, count=len(canceled))
    return len(canceled)


async def cancel_for_release(es: EventStore, ev: PhoneNumberReleased) -> int:
    """A released number sends nothing more: its messages not yet at the carrier end canceled
    (NUMBER_RELEASED) and refunded, instead of waiting in the queue until they expire."""
    async with es.transaction() as conn:
        if not await claim(conn, RELEASE_CONSUMER, ev.event_id):
            return 0
        pending = await store.lock_where(conn, "phone_number_id = $1 AND org_id = $2::uuid AND status IN"
                                         " ('scheduled', 'queued')", ev.phone_number_id, ev.org_id)
        canceled = await decide_all(conn, es, pending, Cancel(model.NUMBER_RELEASED, model.NUMBER_RELEASED, ev))
    if canceled:
        log.info("messages_canceled_for_release", org_id=ev.org_id, phone_number_id=ev.phone_number_id,
                 count=len(canceled))
    return len(canceled)


async def release_quiet_hours(es: EventStore, ev: CompliancePolicyChanged, now: datetime | None = None) -> int:
    """Quiet hours turned off: the organization's messages scheduled because of quiet hours alone go now
    (or at their own send_at, if that is still ahead). The final check before the carrier still runs."""
    if ev.quiet_hours_enabled or "quiet_hours_enabled" not in ev.changed:
        return 0
    async with es.transaction() as conn:
        if not await claim(conn, POLICY_CONSUMER, ev.event_id):
            return 0
        held = await store.lock_where(conn, "org_id = $1::uuid AND status = 'scheduled' AND deferred_by IS NOT NULL",
                                      ev.org_id)
        moved = await decide_all(conn, es, held, QuietHoursOff(now or utcnow(), ev))
        queued = sum(1 for m in moved if m.status == "queued")
        if queued:
            await projection.notify(conn, store.due_channel(es.schema))
    if held:
        log.info("quiet_hours_released", org_id=ev.org_id, queued=queued, examined=len(held))
    return queued


def specs(es: EventStore, send: Send, reply_max_age_s: float) -> list[ConsumerSpec]:
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
            await carrier_receipts.consume(es, RECEIPTS_CONSUMER, [ev])

    async def on_receipts(evs: list[Event]) -> set[str]:
        return await carrier_receipts.consume(es, RECEIPTS_CONSUMER, [e for e in evs if isinstance(e, ReceiptReceived)])

    async def on_reply(ev: Event) -> None:
        if isinstance(ev, ReplyIssued | DoubleOptInRequested):
            await send_reply(es, send, ev, reply_max_age_s)

    return [
        ConsumerSpec(durable=REPLIES_CONSUMER, events=(ReplyIssued, DoubleOptInRequested), handler=on_reply,
                     batch=16),
        # (compliance's replies and double opt-in texts go out because they were recorded; a contact who
        # texted STOP waits for the answer — a fetch hands over what has come as soon as something has, so
        # its timeout is no latency: at 20 ms it only cost an idle outbound 50 fetches a second)
        ConsumerSpec(durable=OPT_OUT_CONSUMER, events=(OptOutRecorded,), handler=on_opt_out),
        ConsumerSpec(durable=RELEASE_CONSUMER, events=(PhoneNumberReleased,), handler=on_release),
        # (a released number's pending messages are canceled and refunded)
        ConsumerSpec(durable=POLICY_CONSUMER, events=(CompliancePolicyChanged,), handler=on_policy),
        # (quiet hours turned off release the messages they alone held)
        ConsumerSpec(durable=RECEIPTS_CONSUMER, events=(ReceiptReceived,), handler=on_receipt, absorb=on_receipts,
                     batch=100),
        # (the carrier service's receipts: delivered / undelivered)
    ]
