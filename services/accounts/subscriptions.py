"""The consumers accounts owns: credit settled by what happened to the work it paid for."""

from __future__ import annotations

from libs.bus.consumer import ConsumerSpec
from libs.store.processed import claim
from proto.base import Event
from proto.commands.accounts import SettleCredit
from proto.events.outbound import MessageCanceled, MessageFailed, MessageSent
from services.accounts.handlers import Accounts

CREDIT_CONSUMER = "accounts-message-credit"


def specs(h: Accounts) -> list[ConsumerSpec]:
    async def on_message_event(ev: Event) -> None:
        match ev:
            case MessageSent(reservation_id=rid) if rid:
                cmd = SettleCredit(org_id=ev.org_id, reservation_id=rid, capture=True)
            case MessageFailed(reservation_id=rid, reached_carrier=False, reason=reason) if rid:
                cmd = SettleCredit(org_id=ev.org_id, reservation_id=rid, capture=False, reason=f"refund: {reason}")
            case MessageCanceled(reservation_id=rid, reason=reason) if rid:
                cmd = SettleCredit(org_id=ev.org_id, reservation_id=rid, capture=False, reason=f"refund: {reason}")
            case _:
                return
        async with h.store.transaction() as conn:
            if not await claim(conn, CREDIT_CONSUMER, ev.event_id):
                return
            exists = await conn.fetchval("SELECT 1 FROM reservations WHERE id = $1", cmd.reservation_id)
            if exists:  # a message sent without a reservation (none held) has nothing to settle
                await h.settle_in(conn, cmd)

    # only the events that settle credit: the server skips the rest of each message's life for us
    return [ConsumerSpec(durable=CREDIT_CONSUMER, domain="outbound", handler=on_message_event, filter=tuple(
        f"message.{t.subject_token()}.*" for t in (MessageSent, MessageFailed, MessageCanceled)))]
