"""Delivery receipts from the carrier (``POST /carrier/dlr`` on outbound's own port): verified, matched
by our reference (= message id, so a receipt that beats our own MessageSent write is held and applied
when the message is sent), recorded once each, applied only to a ``sent`` message — a terminal message
never reopens, and duplicates or out-of-order receipts change nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import structlog
from aiohttp import web

from libs.carrier.adapter import verify_callback
from libs.store.eventstore import EventStore
from proto.base import parse_uuid
from proto.events.outbound import MessageDelivered, MessageUndelivered
from services.outbound import model, store

log = structlog.get_logger(__name__)


class Receipt(msgspec.Struct, kw_only=True):
    carrier_message_id: str
    status: str
    reference: str | None = None
    error_code: str | None = None
    occurred_at: str | None = None


_decoder = msgspec.json.Decoder(Receipt)


def held(row: asyncpg.Record) -> Receipt | None:
    """The final receipt waiting for this message to be sent, if any."""
    raw = row["pending_receipt"]
    return msgspec.json.decode(raw, type=Receipt) if raw else None


async def apply(conn: asyncpg.Connection, es: EventStore, row: asyncpg.Record, r: Receipt) -> asyncpg.Record:
    """A final receipt for a ``sent`` message: delivered or undelivered (terminal)."""
    outcome = model.receipt_outcome(r.status)
    cid = r.carrier_message_id or row["carrier_message_id"] or ""
    if outcome == "delivered":
        ev_d = MessageDelivered(org_id=row["org_id"], message_id=row["id"], carrier_message_id=cid,
                                receipt_status=r.status, delivered_at=r.occurred_at or "")
        return await store.transition(conn, es, row, ev_d, "delivered", None, pending_receipt=None)
    reason = f"carrier receipt {r.status}" + (f" ({r.error_code})" if r.error_code else "")
    ev_u = MessageUndelivered(org_id=row["org_id"], message_id=row["id"], carrier_message_id=cid,
                              receipt_status=r.status, error_code=r.error_code or "", reason=reason)
    return await store.transition(conn, es, row, ev_u, "undelivered", reason,
                                  error_code=r.error_code or r.status, pending_receipt=None)


async def _find(conn: asyncpg.Connection, r: Receipt) -> asyncpg.Record | None:
    mid = parse_uuid(r.reference) if r.reference else None
    if mid is not None:
        row = await store.lock(conn, mid)
        if row is not None:
            return row
    found = await conn.fetchval("SELECT id::text FROM messages WHERE carrier_message_id = $1", r.carrier_message_id)
    return await store.lock(conn, found) if found else None


async def handle(conn: asyncpg.Connection, es: EventStore, r: Receipt) -> str:
    """Record and (maybe) apply one receipt; returns its effect."""
    row = await _find(conn, r)
    outcome = model.receipt_outcome(r.status)
    if row is None:
        effect = "unmatched"
    elif outcome is None:
        effect = "not_final"
    elif model.is_terminal(row["status"]):
        effect = "ignored_terminal"
    elif row["status"] == "sent":
        await apply(conn, es, row, r)
        effect = "applied"
    else:  # still sending: our MessageSent write has not landed yet; keep it for then
        current = held(row)
        if current is None:
            await store.update(conn, row["id"], pending_receipt=msgspec.json.encode(r).decode())
            effect = "held"
        else:
            effect = "duplicate_held"
    await store.record_receipt(conn, row["id"] if row else None, r.carrier_message_id, r.reference, r.status,
                               r.error_code, r.occurred_at, effect)
    return effect


def route(es: EventStore, secret: str) -> Any:
    async def dlr(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_callback(secret, request.headers.get("X-Sim-Signature"), raw):
            log.warning("receipt_bad_signature")
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            r = _decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("receipt_malformed", error=str(exc))
            return web.json_response({"error": "malformed receipt"}, status=400)
        async with es.transaction() as conn:
            effect = await handle(conn, es, r)
        log.info("receipt_received", carrier_message_id=r.carrier_message_id, reference=r.reference,
                 receipt_status=r.status, effect=effect)
        return web.json_response({"ok": True, "effect": effect})

    return dlr
