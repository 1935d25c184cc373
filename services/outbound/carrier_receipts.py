"""Carrier receipts in: delivery receipts from the carrier (the carrier service's ReceiptReceived events), matched
by our reference (= message id, so a receipt that beats our own MessageSent write is held and applied
when the message is sent), recorded once each, applied only to a ``sent`` message — a terminal message
never reopens, and duplicates or out-of-order receipts change nothing."""

from __future__ import annotations

import asyncpg
import structlog

from libs.store import sql, table
from libs.store.eventstore import EventStore
from libs.store.processed import claim_many
from proto.base import Event, parse_uuid, rfc3339
from proto.events.carrier import ReceiptReceived
from services.outbound import model, projection, store
from services.outbound.commands import ApplyReceipt
from services.outbound.rules import Receipt

log = structlog.get_logger(__name__)


_RECORDED = {"m": "uuid", "c": "text", "r": "text", "s": "text", "e": "text", "o": "text", "x": "text"}


async def handle_many(conn: asyncpg.Connection, es: EventStore, rs: list[Receipt]) -> list[str]:
    """Record and (maybe) apply receipts, in order, in the caller's transaction; answers each one's
    effect (the aggregate's outcome: applied, held, duplicate_held, ignored_terminal, not_final, or
    unmatched). The messages are locked at once, the receipts that apply are written in one statement
    and all are recorded in one. Two receipts for one message in the batch are taken in turn."""
    refs = [parse_uuid(r.reference) if r.reference else None for r in rs]
    before = await store.lock_many(conn, [m for m in refs if m])
    lost = [r.carrier_message_id for r, m in zip(rs, refs, strict=True) if m not in before]
    by_cid: dict[str, str] = {}
    if lost:  # a receipt without our reference: matched by the carrier's id (rare; locked after the rest)
        by_cid = {x["carrier_message_id"]: x["id"] for x in await conn.fetch(
            "SELECT id::text AS id, carrier_message_id FROM messages WHERE carrier_message_id = ANY($1::text[])",
            lost)}
        before.update(await store.lock_many(conn, [m for m in by_cid.values() if m not in before]))
    now = dict(before)
    events: dict[str, list[Event]] = {}
    holding: dict[str, Receipt] = {}
    effects: list[str] = []
    matched: list[str | None] = []
    for r, ref in zip(rs, refs, strict=True):
        s = now.get(ref or "") or now.get(by_cid.get(r.carrier_message_id, ""))
        matched.append(s.id if s is not None else None)
        if s is None:
            effects.append("unmatched")
            continue
        d = model.decide(s, ApplyReceipt(r))
        if d.events:
            events.setdefault(s.id, []).extend(d.events)
            now[s.id] = model.fold(s, d.events)
        elif d.outcome == "held":
            holding[s.id] = r
            now[s.id] = model.hold(s, r)
        effects.append(d.outcome)
    await projection.write(conn, es, [projection.write_of(before[m], tuple(evs)) for m, evs in events.items()])
    await projection.hold(conn, holding)
    text, args = sql(
        "INSERT INTO receipts (message_id, carrier_message_id, reference, status, error_code, occurred_at, effect)"
        " SELECT m, c, r, s, e, o, x FROM :v", v=table("v", _RECORDED, [
            (m, r.carrier_message_id, r.reference, r.status, r.error_code,
             rfc3339(r.occurred_at) if r.occurred_at else None, x)
            for m, r, x in zip(matched, rs, effects, strict=True)])).compile()
    await conn.execute(text, *args)
    return effects


def from_event(ev: ReceiptReceived) -> Receipt:
    return Receipt(carrier_message_id=ev.carrier_message_id, status=ev.status, reference=ev.message_id,
                   error_code=ev.error_code or None, occurred_at=ev.done_at or ev.occurred_at)


async def consume(es: EventStore, consumer: str, events: list[ReceiptReceived]) -> set[str]:
    """The carrier service's ReceiptReceived events of a fetched batch, recorded and applied in one
    transaction (each event once: its id is claimed with the effects)."""
    async with es.transaction() as conn:
        first = await claim_many(conn, consumer, [ev.event_id for ev in events])
        fresh = [ev for ev in events if ev.event_id in first]
        effects = await handle_many(conn, es, [from_event(ev) for ev in fresh]) if fresh else []
    for ev, effect in zip(fresh, effects, strict=True):
        log.info("receipt_received", message_id=ev.message_id, carrier_message_id=ev.carrier_message_id,
                 receipt_status=ev.status, effect=effect)
    return {ev.event_id for ev in events}
