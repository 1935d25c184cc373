"""Delivery receipts recorded by the batch, in the caller's transaction, in a few statements whatever the
batch's size: each part's receipt kept (a final state is never replaced), the submissions they belong to
locked, their parts read, and every message whose receipts now say what happened published once — its
ReceiptReceived and its status in one write. A receipt whose submission is not recorded yet waits in its
row (``held``); our record of the submission settles it then (``Carrier._settle``)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from libs.smpp.receipt import Receipt
from libs.store import Sql, Write, sql, table
from libs.store.eventstore import EventStore
from proto.events.carrier import ReceiptReceived
from services.carrier import model, store

_PUT = {"c": "text", "s": "text", "e": "text", "d": "text"}


@dataclass(frozen=True)
class Published:
    message_id: str
    lag_s: float | None
    """From our record of the submission to its receipt (None if the submission carries no time)."""


def rounds(rs: list[Receipt]) -> list[list[int]]:
    """The receipts' positions in rounds in which no part (carrier id) comes twice, in order: one statement
    cannot change a row twice, and a part's second receipt must see its first."""
    out: list[list[int]] = []
    seen: list[set[str]] = []
    for i, r in enumerate(rs):
        k = next((k for k, ids in enumerate(seen) if r.message_id not in ids), len(out))
        if k == len(out):
            out.append([])
            seen.append(set())
        out[k].append(i)
        seen[k].add(r.message_id)
    return out


async def put(conn: asyncpg.Connection, rs: list[Receipt]) -> list[str | None]:
    """Keep each part's receipt (no carrier id twice); answers the message each belongs to, or None when
    our record of its submission has not come yet."""
    text, args = sql(
        "WITH v AS (SELECT * FROM :rows), up AS ("
        " INSERT INTO carrier_ids (carrier_message_id, stat, err, done_at, receipt_at)"
        " SELECT c, s, e, d, now() FROM v ORDER BY c"
        " ON CONFLICT (carrier_message_id) DO UPDATE SET stat = EXCLUDED.stat, err = EXCLUDED.err,"
        " done_at = EXCLUDED.done_at, receipt_at = now()"
        " WHERE carrier_ids.stat IS NULL OR carrier_ids.stat IN ('ACCEPTD', 'ENROUTE')"
        " RETURNING carrier_message_id, message_id)"
        # a repeated final receipt (no update) still names its message, as the row was before
        " SELECT coalesce(up.message_id, ci.message_id)::text AS message_id FROM v"
        " LEFT JOIN up ON up.carrier_message_id = v.c LEFT JOIN carrier_ids ci ON ci.carrier_message_id = v.c"
        " ORDER BY v.ord",
        rows=table("v", _PUT, [(r.message_id, r.stat, r.err, r.done_at) for r in rs])).compile()
    return [row["message_id"] for row in await conn.fetch(text, *args)]


async def settle(conn: asyncpg.Connection, es: EventStore, mids: list[str]) -> dict[str, str | Published]:
    """Publish the receipts of the messages whose parts' receipts now say what happened (once each);
    answers each message's effect: published, pending, duplicate or held."""
    subs = {r["message_id"]: r for r in await conn.fetch(
        "SELECT message_id::text AS message_id, org_id, state, parts, receipt_status,"
        " extract(epoch FROM now() - submitted_at)::float8 AS lag_s FROM submissions"
        " WHERE message_id = ANY($1::uuid[]) ORDER BY message_id FOR UPDATE", mids)}
    parts: dict[str, list[asyncpg.Record]] = {}
    for r in await conn.fetch(
            "SELECT message_id::text AS message_id, carrier_message_id, part, stat, err, done_at FROM carrier_ids"
            " WHERE message_id = ANY($1::uuid[]) ORDER BY message_id, part", [m for m in mids if m in subs]):
        parts.setdefault(r["message_id"], []).append(r)
    out: dict[str, str | Published] = {}
    w = Write()
    statuses: list[tuple[str, str]] = []
    for mid in mids:
        sub = subs.get(mid)
        if sub is None or sub["state"] != "submitted":
            out[mid] = "held"
            continue
        if sub["receipt_status"] is not None:
            out[mid] = "duplicate"
            continue
        rows = parts.get(mid, [])
        verdict = model.message_receipt(
            sub["parts"], [model.PartReceipt(r["part"], r["stat"], r["err"] or "", r["done_at"] or "") for r in rows],
            {r["part"]: r["carrier_message_id"] for r in rows})
        if verdict is None:
            out[mid] = "pending"
            continue
        w.append(store.stream(mid), None, [ReceiptReceived(
            org_id=sub["org_id"], message_id=mid, carrier_message_id=verdict.carrier_message_id,
            status=verdict.stat, outcome=verdict.outcome, error_code=verdict.err,
            done_at=model.carrier_time(verdict.done_at))])
        statuses.append((mid, verdict.stat))
        out[mid] = Published(mid, sub["lag_s"])
    if statuses:  # (the submissions are locked: appended at their streams' heads)
        await es.write(w.project(receipted(statuses)), conn)
    return out


def receipted(statuses: list[tuple[str, str]]) -> Sql:
    """The submissions' receipt statuses set, ``(message id, status)`` each: named by their ids too (an index
    condition: joined to the batch alone, a row count from before the table grew can make a walk of its
    key look cheap)."""
    return sql("UPDATE submissions s SET receipt_status = v.status, updated_at = now() FROM :rows"
               " WHERE s.message_id = ANY(:ids::uuid[]) AND s.message_id = v.id",
               rows=table("v", {"id": "uuid", "status": "text"}, statuses), ids=[m for m, _ in statuses])


async def record_many(conn: asyncpg.Connection, es: EventStore, rs: list[Receipt]) -> list[str | Published]:
    """Record receipts in order; answers each one's effect (held, pending, duplicate, or for the receipt
    that decided its message, Published)."""
    effects: list[str | Published] = [""] * len(rs)
    for positions in rounds(rs):
        batch = [rs[i] for i in positions]
        mids = await put(conn, batch)
        settled = await settle(conn, es, list(dict.fromkeys(m for m in mids if m is not None)))
        last = {m: i for i, m in zip(positions, mids, strict=True) if m is not None}
        for i, mid in zip(positions, mids, strict=True):
            if mid is None:
                effects[i] = "held"
                continue
            # a message decided by several of its parts' receipts in one round: the last one published it
            effect = settled[mid]
            effects[i] = "pending" if isinstance(effect, Published) and last[mid] != i else effect
    return effects
