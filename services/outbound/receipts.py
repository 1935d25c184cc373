"""Delivery receipts from the carrier (the carrier service's ReceiptReceived events): matched
by our reference (= message id, so a receipt that beats our own MessageSent write is held and applied
when the message is sent), recorded once each, applied only to a ``sent`` message — a terminal message
never reopens, and duplicates or out-of-order receipts change nothing."""

from __future__ import annotations

import asyncpg
import msgspec
import structlog

from libs.store.eventstore import EventStore
from libs.store.processed import claim
from proto.base import parse_uuid, rfc3339
from proto.events.carrier import ReceiptReceived
from proto.events.outbound import MessageDelivered, MessageUndelivered
from services.outbound import model, store

log = structlog.get_logger(__name__)


class Receipt(msgspec.Struct, kw_only=True):
    carrier_message_id: str
    status: str
    reference: str | None = None
    error_code: str | None = None
    occurred_at: str | None = None


def held(row: asyncpg.Record) -> Receipt | None:
    """The final receipt waiting for this message to be sent, if any."""
    raw = row["pending_receipt"]
    return msgspec.json.decode(raw, type=Receipt) if raw else None


def change(row: asyncpg.Record, r: Receipt) -> store.Change:
    """The transition a final receipt makes of a ``sent`` message: delivered or undelivered (terminal)."""
    outcome = model.receipt_outcome(r.status)
    cid = r.carrier_message_id or row["carrier_message_id"] or ""
    if outcome == "delivered":
        ev_d = MessageDelivered(org_id=row["org_id"], message_id=row["id"], carrier_message_id=cid,
                                receipt_status=r.status, delivered_at=r.occurred_at or "")
        return store.Change(row, ev_d, "delivered", None, {"pending_receipt": None})
    reason = f"carrier receipt {r.status}" + (f" ({r.error_code})" if r.error_code else "")
    ev_u = MessageUndelivered(org_id=row["org_id"], message_id=row["id"], carrier_message_id=cid,
                              receipt_status=r.status, error_code=r.error_code or "", reason=reason)
    return store.Change(row, ev_u, "undelivered", reason,
                        {"error_code": r.error_code or r.status, "pending_receipt": None})


async def apply(conn: asyncpg.Connection, es: EventStore, row: asyncpg.Record, r: Receipt) -> asyncpg.Record:
    """A final receipt for a ``sent`` message: delivered or undelivered (terminal)."""
    ch = change(row, r)
    return await store.transition(conn, es, ch.row, ch.event, ch.status, ch.reason, **ch.changes)


async def handle_many(conn: asyncpg.Connection, es: EventStore, rs: list[Receipt]) -> list[str]:
    """Record and (maybe) apply receipts, in order, in the caller's transaction; answers each one's
    effect. The messages are locked at once, the receipts that apply are applied in one statement and
    all are recorded in one. Two receipts for one message in the batch are taken in turn."""
    refs = [parse_uuid(r.reference) if r.reference else None for r in rs]
    rows = await store.lock_many(conn, [m for m in refs if m])
    lost = [r.carrier_message_id for r, m in zip(rs, refs, strict=True) if m not in rows]
    by_cid: dict[str, str] = {}
    if lost:  # a receipt without our reference: matched by the carrier's id (rare; locked after the rest)
        by_cid = {x["carrier_message_id"]: x["id"] for x in await conn.fetch(
            "SELECT id::text AS id, carrier_message_id FROM messages WHERE carrier_message_id = ANY($1::text[])",
            lost)}
        rows.update(await store.lock_many(conn, [m for m in by_cid.values() if m not in rows]))
    applied: dict[str, store.Change] = {}
    holding: dict[str, str] = {}
    effects: list[str] = []
    matched: list[str | None] = []
    for r, ref in zip(rs, refs, strict=True):
        row = rows.get(ref) if ref else None
        if row is None:
            row = rows.get(by_cid.get(r.carrier_message_id, ""))
        matched.append(row["id"] if row is not None else None)
        outcome = model.receipt_outcome(r.status)
        if row is None:
            effects.append("unmatched")
        elif outcome is None:
            effects.append("not_final")
        elif row["id"] in applied or model.is_terminal(row["status"]):
            effects.append("ignored_terminal")
        elif row["status"] == "sent":
            applied[row["id"]] = change(row, r)
            effects.append("applied")
        elif held(row) is None and row["id"] not in holding:  # our MessageSent write has not landed yet
            holding[row["id"]] = msgspec.json.encode(r).decode()
            effects.append("held")
        else:
            effects.append("duplicate_held")
    if applied:
        await store.transition_many(conn, es, list(applied.values()))
    if holding:
        await conn.execute(
            "UPDATE messages SET pending_receipt = v.p::jsonb FROM unnest($1::uuid[], $2::text[]) AS v(id, p)"
            " WHERE messages.id = v.id", list(holding), list(holding.values()))
    await conn.execute(
        "INSERT INTO receipts (message_id, carrier_message_id, reference, status, error_code, occurred_at, effect)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
        matched, [r.carrier_message_id for r in rs], [r.reference for r in rs], [r.status for r in rs],
        [r.error_code for r in rs], [r.occurred_at for r in rs], effects)
    return effects


def from_event(ev: ReceiptReceived) -> Receipt:
    return Receipt(carrier_message_id=ev.carrier_message_id, status=ev.status, reference=ev.message_id,
                   error_code=ev.error_code or None, occurred_at=ev.done_at or rfc3339(ev.occurred_at))


async def consume(es: EventStore, consumer: str, events: list[ReceiptReceived]) -> set[str]:
    """The carrier service's ReceiptReceived events of a fetched batch, recorded and applied in one
    transaction (each event once: its id is claimed with the effects)."""
    async with es.transaction() as conn:
        fresh = [ev for ev in events if await claim(conn, consumer, ev.event_id)]
        effects = await handle_many(conn, es, [from_event(ev) for ev in fresh]) if fresh else []
    for ev, effect in zip(fresh, effects, strict=True):
        log.info("receipt_received", message_id=ev.message_id, carrier_message_id=ev.carrier_message_id,
                 receipt_status=ev.status, effect=effect)
    return {ev.event_id for ev in events}
