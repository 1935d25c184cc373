"""The consumers accounts owns: credit settled by what happened to the work it paid for."""

from __future__ import annotations

from collections import Counter

from libs.bus.consumer import ConsumerSpec
from libs.store.processed import claim
from proto.base import Event
from proto.commands.accounts import SettleCredit
from proto.events.outbound import MessageCanceled, MessageFailed, MessageSent
from services.accounts.handlers import Accounts

CREDIT_CONSUMER = "accounts-message-credit"


def settlement(ev: Event) -> SettleCredit | None:
    """What a message event settles: its reservation captured (sent) or released (never reached the
    carrier); None for anything else."""
    match ev:
        case MessageSent(reservation_id=rid) if rid:
            return SettleCredit(org_id=ev.org_id, reservation_id=rid, capture=True)
        case MessageFailed(reservation_id=rid, reached_carrier=False, reason=reason) if rid:
            return SettleCredit(org_id=ev.org_id, reservation_id=rid, capture=False, reason=f"refund: {reason}")
        case MessageCanceled(reservation_id=rid, reason=reason) if rid:
            return SettleCredit(org_id=ev.org_id, reservation_id=rid, capture=False, reason=f"refund: {reason}")
    return None


def specs(h: Accounts) -> list[ConsumerSpec]:
    async def on_message_event(ev: Event) -> None:
        cmd = settlement(ev)
        if cmd is None:
            return
        async with h.store.transaction() as conn:
            if not await claim(conn, CREDIT_CONSUMER, ev.event_id):
                return
            exists = await conn.fetchval("SELECT 1 FROM reservations WHERE id = $1", cmd.reservation_id)
            if exists:  # a message sent without a reservation (none held) has nothing to settle
                await h.settle_in(conn, cmd)

    async def absorb(events: list[Event]) -> set[str]:
        """The bulk path: the captures of a fetched batch (most of its events: messages sent) settled
        together. Each touches only its own reservation, so their order does not matter; a reservation
        named twice in the batch, and every refund, goes one by one."""
        cmds = [(ev.event_id, settlement(ev)) for ev in events]
        named = Counter(cmd.reservation_id for _, cmd in cmds if cmd is not None)
        done = {eid for eid, cmd in cmds if cmd is None}
        captures = [(eid, cmd) for eid, cmd in cmds if cmd is not None and cmd.capture
                    and named[cmd.reservation_id] == 1]
        return done | (await h.capture_many(CREDIT_CONSUMER, captures) if captures else set())

    # only the events that settle credit: the server skips the rest of each message's life for us
    return [ConsumerSpec(durable=CREDIT_CONSUMER, events=(MessageSent, MessageFailed, MessageCanceled),
                         handler=on_message_event, absorb=absorb)]
