"""The dispatcher's timed sweeps, each a command of the Message aggregate: scheduled messages whose time
came join the queue (Promote), messages not handed to the carrier within their validity fail as expired
(Expire, refunded), and sent messages whose final receipt never came end undelivered (ReceiptTimeout,
DELIVERY_UNCONFIRMED: the carrier had it, so its credit stays spent)."""

from __future__ import annotations

import structlog

from libs.bus.rpc import RpcClient
from libs.store.eventstore import EventStore
from proto.base import parse_uuid, utcnow
from proto.commands.accounts import HeldReservations, ListHeldReservations, SettleCredit
from services.outbound import model, projection, store
from services.outbound.commands import Command, Expire, Promote, ReceiptTimeout

log = structlog.get_logger(__name__)


def _writes(messages: list[model.Message], cmd: Command) -> list[projection.Write]:
    return [projection.write_of(m, model.decide(m, cmd).events) for m in messages]


async def promote(es: EventStore) -> None:
    """Scheduled messages whose time came join the queue."""
    async with es.transaction() as conn:
        due = store.states(await conn.fetch(
            f"SELECT {store.COLUMNS} FROM messages WHERE status = 'scheduled' AND next_attempt_at <= now()"
            " AND (claimed_until IS NULL OR claimed_until < now()) ORDER BY next_attempt_at LIMIT 200"
            " FOR UPDATE SKIP LOCKED"))
        await projection.write(conn, es, _writes(due, Promote(utcnow())))


async def expire(es: EventStore) -> None:
    """Messages not handed to the carrier within their validity fail as expired (refunded); one whose
    held receipt shows the carrier had it after all is sent."""
    ids = await es.pool.fetch(
        "SELECT id::text AS id FROM messages WHERE status IN ('scheduled', 'queued', 'sending')"
        " AND expires_at <= now() AND (claimed_until IS NULL OR claimed_until < now()) LIMIT 200")
    for r in ids:
        async with es.transaction() as conn:
            m = await store.lock(conn, r["id"])
            if m is not None:  # (a worker may have claimed or moved it since the query: decide says so)
                await projection.write(conn, es, _writes([m], Expire(utcnow())))


async def unconfirmed(es: EventStore, timeout_s: float) -> None:
    """Sent messages whose final receipt did not come within ``timeout_s`` end undelivered: carriers stop
    reporting on a message after their own validity period, and every message ends in one terminal
    status. A receipt arriving later changes nothing."""
    ids = [r["id"] for r in await es.pool.fetch(
        "SELECT id::text AS id FROM messages WHERE status = 'sent'"
        " AND updated_at <= now() - make_interval(secs => $1) ORDER BY updated_at LIMIT 200", timeout_s)]
    if not ids:
        return
    async with es.transaction() as conn:
        sent = list((await store.lock_many(conn, ids)).values())
        changed = await projection.write(conn, es, _writes(sent, ReceiptTimeout(utcnow(), timeout_s)))
    log.info("receipts_unconfirmed", messages=len(changed), timeout_s=timeout_s)


ORPHAN_LOOKBACK_S = 7 * 86400.0
"""How far back holds are reconciled (older ones were looked at by the sweeps of that week)."""


async def orphaned_holds(es: EventStore, rpc: RpcClient, after_s: float) -> int:
    """Credit accounts holds for a message this store does not have, held more than ``after_s`` ago, is
    released: the message was never accepted (the accept path holds, then writes; a process that died
    in between, or a timed-out hold that landed after its release, left the hold behind). Answers how many."""
    held: HeldReservations = await rpc.call(ListHeldReservations(reason="message", older_than_s=after_s,
                                                                 newer_than_s=ORPHAN_LOOKBACK_S))
    ids = [h.reservation_id for h in held.items if parse_uuid(h.reservation_id) is not None]
    if not ids:
        return 0
    known = {r["id"] for r in await es.pool.fetch("SELECT id::text AS id FROM messages WHERE id = ANY($1::uuid[])",
                                                  ids)}
    orphans = [h for h in held.items if h.reservation_id in ids and h.reservation_id not in known]
    for h in orphans:
        await rpc.call(SettleCredit(org_id=h.org_id, reservation_id=h.reservation_id, capture=False,
                                    reason="message never accepted"))
        log.warning("credit_hold_orphaned_released", org_id=h.org_id, message_id=h.reservation_id)
    return len(orphans)
