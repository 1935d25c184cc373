"""compliance SQL: the contact ledger's read models (projected in the append's transaction), the gate's
one-query lookup, and the group-committed log of send decisions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import structlog

from libs.obs.metrics import GATE_DECISIONS
from libs.runtime.batching import Batcher
from libs.store import Sql, Write, sql, table
from libs.store.eventstore import EventStore
from proto.base import Event, rfc3339
from proto.commands.compliance import evidence_view
from proto.events.compliance import (
    ConsentGranted,
    DoubleOptInExpired,
    DoubleOptInRequested,
    GateDecision,
    GateDecisionsRecorded,
    ReplyIssued,
)
from services.compliance.frequency import Sent
from services.compliance.keywords import Campaign
from services.compliance.model import ContactState, PendingDoubleOptIn

log = structlog.get_logger(__name__)
_enc = msgspec.json.Encoder()


def contact_stream(org_id: str, contact: str) -> str:
    return f"contact-{org_id}:{contact}"


_STATE_COLS = ("version, consent_id, consent_method, consent_granted_at, opted_out, opted_out_at, opt_out_source,"
               " opt_out_rule, opt_out_confirmation_id, last_inbound_at, said_at")


def state_of(row: asyncpg.Record | None) -> ContactState:
    if row is None or row["version"] is None:
        return ContactState(last_inbound_at=row["last_inbound_at"] if row is not None else None)
    return ContactState(
        version=row["version"], consent_id=row["consent_id"], consent_method=row["consent_method"],
        consent_granted_at=row["consent_granted_at"], opted_out=row["opted_out"], opted_out_at=row["opted_out_at"],
        opt_out_source=row["opt_out_source"], opt_out_rule=row["opt_out_rule"],
        opt_out_confirmation_id=row["opt_out_confirmation_id"], last_inbound_at=row["last_inbound_at"],
        said_at=row["said_at"])


async def load_state(conn: asyncpg.Connection, org_id: str, contact: str) -> ContactState:
    row = await conn.fetchrow(f"SELECT {_STATE_COLS} FROM contacts WHERE org_id = $1 AND contact = $2 FOR UPDATE",
                              org_id, contact)
    return state_of(row)


# The gate's whole read, for many requests in one round trip: each contact's state, its org's policy, and
# whether compliance itself issued the message id (and as what kind).
GATE_QUERY = (
    "SELECT q.idx, c.version, c.consent_id, c.consent_method, c.consent_granted_at, c.opted_out, c.opted_out_at,"
    " c.opt_out_source, c.opt_out_rule, c.opt_out_confirmation_id, c.last_inbound_at, c.said_at,"
    " s.quiet_hours_enabled, s.quiet_hours_action, s.conversation_window_enabled, s.conversation_window_hours,"
    " s.double_opt_in_expiry_hours, s.help_reply, s.opt_out_reply, s.opt_in_reply,"
    " s.frequency_caps::text AS frequency_caps, s.frequency_cap_action, i.kind AS issued_kind,"
    " f.message_id IS NOT NULL AS counted"
    " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS q(org_id, contact, message_id, idx)"
    " LEFT JOIN contacts c ON c.org_id = q.org_id AND c.contact = q.contact"
    " LEFT JOIN org_settings s ON s.org_id = q.org_id"
    " LEFT JOIN issued_messages i ON i.message_id = q.message_id AND i.org_id = q.org_id"
    " LEFT JOIN frequency_sends f ON f.message_id = q.message_id AND f.org_id = q.org_id"
)


class GateReader:
    """Reads the gate's state for every request waiting, in one query: while one batch is in flight the
    next one gathers. A request is answered from a read that started after it arrived, so it never sees
    state older than its own arrival."""

    def __init__(self, pool: asyncpg.Pool, max_batch: int = 256, readers: int = 4):
        self.pool = pool
        self._batcher = Batcher("gate-reader", self._read, max_batch=max_batch, workers=readers)

    def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        await self._batcher.stop()

    async def read_many(self, keys: Sequence[tuple[str, str, str]]) -> list[asyncpg.Record]:
        """The gate's row of each ``(org_id, contact, message_id)``, in order (queued together, they share
        the batches in flight with other requests' keys)."""
        return list(await asyncio.gather(*[self._batcher.enqueue(k) for k in keys]))

    async def _read(self, keys: list[tuple[str, str, str]]) -> list[asyncpg.Record]:
        rows = await self.pool.fetch(GATE_QUERY, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
        by_idx = {r["idx"]: r for r in rows}
        return [by_idx[i] for i in range(1, len(keys) + 1)]


async def touch_inbound(conn: asyncpg.Connection, org_id: str, contact: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO contacts (org_id, contact, last_inbound_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (org_id, contact) DO UPDATE SET last_inbound_at ="
        " GREATEST(contacts.last_inbound_at, EXCLUDED.last_inbound_at)",
        org_id, contact, at)


async def touch_inbound_once(pool: asyncpg.Pool, consumer: str, event_id: str, org_id: str, contact: str,
                             at: datetime) -> None:
    """An inbound message with no keyword: note when the contact last wrote, once per event, in one
    statement (its own transaction: a redelivered event changes nothing)."""
    await pool.execute(
        "WITH c AS (INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2::uuid)"
        "  ON CONFLICT DO NOTHING RETURNING 1)"
        " INSERT INTO contacts (org_id, contact, last_inbound_at) SELECT $3, $4, $5 FROM c"
        " ON CONFLICT (org_id, contact) DO UPDATE SET last_inbound_at ="
        " GREATEST(contacts.last_inbound_at, EXCLUDED.last_inbound_at)",
        consumer, event_id, org_id, contact, at)


async def touch_inbound_many(pool: asyncpg.Pool, consumer: str,
                             items: list[tuple[str, str, str, datetime]]) -> None:
    """``touch_inbound_once`` for many ``(event_id, org_id, contact, at)`` in one statement."""
    await pool.execute(
        "WITH v AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[])"
        "  AS v(event_id, org_id, contact, at)),"
        " c AS (INSERT INTO processed_events (consumer, event_id) SELECT $1, event_id FROM v"
        "  ON CONFLICT DO NOTHING RETURNING event_id),"
        " t AS (SELECT v.org_id, v.contact, max(v.at) AS at FROM v JOIN c USING (event_id)"
        "  GROUP BY v.org_id, v.contact)"
        " INSERT INTO contacts (org_id, contact, last_inbound_at) SELECT org_id, contact, at FROM t"
        " ORDER BY org_id, contact"
        " ON CONFLICT (org_id, contact) DO UPDATE SET last_inbound_at ="
        " GREATEST(contacts.last_inbound_at, EXCLUDED.last_inbound_at)",
        consumer, *[list(col) for col in zip(*items, strict=True)])


async def pending_double_opt_in(conn: asyncpg.Connection, org_id: str, contact: str,
                                phone_number_id: str = "") -> PendingDoubleOptIn | None:
    """The newest pending request, preferring one sent from the number the reply came to."""
    row = await conn.fetchrow(
        "SELECT id, phone_number_id, confirmation_text, message_id, created_at, expires_at FROM double_opt_ins"
        " WHERE org_id = $1 AND contact = $2 AND status = 'pending'"
        " ORDER BY (phone_number_id = $3) DESC, created_at DESC LIMIT 1 FOR UPDATE",
        org_id, contact, phone_number_id)
    if row is None:
        return None
    return PendingDoubleOptIn(id=row["id"], phone_number_id=row["phone_number_id"],
                              confirmation_text=row["confirmation_text"], message_id=row["message_id"],
                              created_at=row["created_at"], expires_at=row["expires_at"])


async def last_double_opt_in_at(conn: asyncpg.Connection, org_id: str, contact: str) -> datetime | None:
    at: datetime | None = await conn.fetchval(
        "SELECT max(created_at) FROM double_opt_ins WHERE org_id = $1 AND contact = $2 AND status <> 'failed'",
        org_id, contact)
    return at


async def append_contact(store: EventStore, conn: asyncpg.Connection, org_id: str, contact: str,
                         before: ContactState, after: ContactState, events: Sequence[Event],
                         source_id: str = "") -> None:
    """Append to the contact's stream at the version read and project every event into the read models:
    one statement, in the caller's transaction. Raises ConcurrencyError when another writer got there
    first (the transaction is then spoiled: the caller rolls back and decides again)."""
    if not events:
        return
    w = Write().append(contact_stream(org_id, contact), before.version, events)
    evidence: str | None = None
    for ev in events:
        if isinstance(ev, ConsentGranted):
            # kept as the API shows it (the contacts table's evidence is read back as the view)
            evidence = msgspec.json.encode(evidence_view(ev.evidence)).decode()
            if ev.evidence.double_opt_in_id:
                w.project(sql("UPDATE double_opt_ins SET status = 'confirmed', confirmed_at = :at"
                              " WHERE id = :id AND status = 'pending'", id=ev.evidence.double_opt_in_id,
                              at=ev.occurred_at))
        elif isinstance(ev, DoubleOptInRequested):
            w.project(sql(
                "INSERT INTO double_opt_ins (id, org_id, contact, phone_number_id, from_number, confirmation_text,"
                " message_id, status, created_at, expires_at) VALUES (:id, :org, :contact, :number_id, :from_,"
                " :text, :message_id, 'pending', :at, :expires)", id=ev.request_id, org=org_id, contact=contact,
                number_id=ev.phone_number_id, from_=ev.from_number, text=ev.confirmation_text,
                message_id=ev.message_id, at=ev.occurred_at, expires=ev.expires_at))
            w.project(issued(ev.message_id, org_id, contact, "opt_in_request", ev.from_number,
                             ev.confirmation_text, ev.request_id))
        elif isinstance(ev, DoubleOptInExpired):
            w.project(sql("UPDATE double_opt_ins SET status = :status WHERE id = :id AND status = 'pending'",
                          id=ev.request_id, status="failed" if ev.reason == "send_failed" else "expired"))
        elif isinstance(ev, ReplyIssued):
            w.project(issued(ev.message_id, org_id, contact, ev.kind, ev.from_number, ev.text, source_id))
    a = after
    w.project(sql(
        "INSERT INTO contacts (org_id, contact, version, consent_id, consent_method, consent_granted_at,"
        " consent_evidence, opted_out, opted_out_at, opt_out_source, opt_out_rule, opt_out_confirmation_id,"
        " said_at, created_at, updated_at) VALUES (:org, :contact, :version, :consent_id, :method, :granted_at,"
        " :evidence::jsonb, :opted_out, :opted_out_at, :source, :rule, :confirmation_id, :said_at, :at, :at)"
        " ON CONFLICT (org_id, contact) DO UPDATE SET version = :version, consent_id = :consent_id,"
        " consent_method = :method, consent_granted_at = :granted_at,"
        " consent_evidence = CASE WHEN :consent_id::text IS NULL THEN NULL"
        "   ELSE COALESCE(:evidence::jsonb, contacts.consent_evidence) END,"
        " opted_out = :opted_out, opted_out_at = :opted_out_at, opt_out_source = :source, opt_out_rule = :rule,"
        " opt_out_confirmation_id = :confirmation_id, said_at = :said_at, updated_at = :at,"
        " created_at = CASE WHEN contacts.version = 0 THEN :at ELSE contacts.created_at END",
        org=org_id, contact=contact, version=a.version, consent_id=a.consent_id, method=a.consent_method,
        granted_at=a.consent_granted_at, evidence=evidence, opted_out=a.opted_out, opted_out_at=a.opted_out_at,
        source=a.opt_out_source, rule=a.opt_out_rule, confirmation_id=a.opt_out_confirmation_id,
        said_at=a.said_at, at=events[-1].occurred_at))
    await store.write(w, conn)


def issued(message_id: str, org_id: str, contact: str, kind: str, from_number: str, text: str,
           source_id: str) -> Sql:
    """A message compliance itself issues (a reply, a double opt-in request): outbound sends it on the event
    that records it; the gate knows it by this row."""
    return sql(
        "INSERT INTO issued_messages (message_id, org_id, contact, kind, from_number, text, source_event_id)"
        " VALUES (:message_id, :org, :contact, :kind, :from_, :text, :source) ON CONFLICT (message_id) DO NOTHING",
        message_id=message_id, org=org_id, contact=contact, kind=kind, from_=from_number, text=text,
        source=source_id)


_DECISION_COLUMNS = {
    "o": "text", "i": "uuid", "a": "timestamptz", "m": "text", "st": "text", "f": "text", "c": "text", "k": "text",
    "cat": "text", "dec": "text", "code": "text", "rc": "text", "r": "text", "du": "text", "ch": "text", "p": "uuid"}


class DecisionLog:
    """Records send decisions with group commit: callers wait for the commit of the batch their decision
    joined, so no allow is answered before it is on the ledger. A batch is one statement, and one event
    per organization in it (a ``GateDecisionsRecorded`` page, in a stream of its own): the decisions
    never contend for a version, and the relay and the bus carry a page, not a message per send."""

    def __init__(self, store: EventStore, max_batch: int = 500, writers: int = 4):
        self.store = store
        self._batcher = Batcher("decision-log", self._write, max_batch=max_batch, workers=writers)
        self._counted: dict[tuple[str, str], Any] = {}  # labelled counter children, looked up once

    def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        await self._batcher.stop()

    async def record_many(self, entries: Sequence[tuple[str, GateDecision]]) -> None:
        """Each ``(org_id, decision)`` counted and on the ledger (queued together, they share the batches in
        flight): returns once every one of them is committed."""
        for _, decision in entries:
            key = (decision.decision, decision.code or "none")
            counter = self._counted.get(key)
            if counter is None:
                counter = self._counted[key] = GATE_DECISIONS.labels(*key)
            counter.inc()
        await asyncio.gather(*[self._batcher.enqueue(e) for e in entries])

    async def _write(self, batch: list[tuple[str, GateDecision]]) -> list[None]:
        pages: dict[str, list[GateDecision]] = {}
        for org_id, decision in batch:
            pages.setdefault(org_id, []).append(decision)
        events = [GateDecisionsRecorded(org_id=org_id, decisions=decisions, occurred_at=decisions[-1].decided_at)
                  for org_id, decisions in pages.items()]
        # the pages and their rows in gate_decisions (the audit's read model), as one statement
        w = Write()
        for ev in events:
            w.append(f"decisions-{ev.event_id}", 0, [ev])
        w.project(sql(
            "INSERT INTO gate_decisions (org_id, decision_id, decided_at, message_id, stage, from_number,"
            " contact_number, kind, category, outcome, code, reason_code, reason, defer_until, checks, page_event_id)"
            " SELECT o, i, a, m, st, f, c, k, cat, dec, code, rc, r, du, ch::json, p FROM :rows",
            rows=table("u", _DECISION_COLUMNS, (
                (ev.org_id, d.decision_id, d.decided_at, d.message_id, d.stage, d.from_number, d.contact_number,
                 d.kind, d.category, d.decision, d.code, reason_code(d), d.reason,
                 rfc3339(d.defer_until) if d.defer_until else None,  # the audit's text, in the API's format
                 _enc.encode(d.checks).decode(), ev.event_id) for ev in events for d in ev.decisions))))
        await self.store.write(w)
        return [None] * len(batch)


# -- frequency caps ---------------------------------------------------------------------------------------

async def lock_contact_sends(conn: asyncpg.Connection, org_id: str, contact: str) -> None:
    """Serialise the counting of one contact's sends (on every replica) until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"freq-{org_id}:{contact}")


async def sends_since(conn: asyncpg.Connection, org_id: str, contact: str, since: datetime,
                      exclude: str) -> list[Sent]:
    rows = await conn.fetch(
        "SELECT message_id, category, at FROM frequency_sends WHERE org_id = $1 AND contact = $2 AND at > $3"
        " AND message_id <> $4 ORDER BY at", org_id, contact, since, exclude)
    return [Sent(r["message_id"], r["category"], r["at"]) for r in rows]


async def count_send(conn: asyncpg.Connection, message_id: str, org_id: str, contact: str, category: str,
                     at: datetime) -> None:
    await conn.execute(
        "INSERT INTO frequency_sends (message_id, org_id, contact, category, at) VALUES ($1,$2,$3,$4,$5)"
        " ON CONFLICT (message_id) DO NOTHING", message_id, org_id, contact, category, at)


async def uncount_sends(pool: asyncpg.Pool, org_id: str, message_ids: list[str]) -> None:
    """Messages that will never be sent (canceled, failed before the carrier) stop counting."""
    await pool.execute("DELETE FROM frequency_sends WHERE org_id = $1 AND message_id = ANY($2::text[])",
                       org_id, message_ids)


# -- campaigns' own keywords ---------------------------------------------------------------------------------

async def save_campaign(conn: asyncpg.Connection, org_id: str, campaign_id: str, opt_out_keywords: list[str],
                        opt_out_message: str, help_keywords: list[str], help_message: str,
                        opt_in_keywords: list[str], opt_in_message: str) -> None:
    await conn.execute(
        "INSERT INTO campaigns (campaign_id, org_id, opt_out_keywords, opt_out_message, help_keywords, help_message,"
        " opt_in_keywords, opt_in_message, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,now()) ON CONFLICT (campaign_id) DO UPDATE SET"
        " opt_out_keywords = $3, opt_out_message = $4, help_keywords = $5, help_message = $6,"
        " opt_in_keywords = $7, opt_in_message = $8, updated_at = now()",
        campaign_id, org_id, opt_out_keywords, opt_out_message, help_keywords, help_message, opt_in_keywords,
        opt_in_message)


async def put_number(conn: asyncpg.Connection, org_id: str, e164: str, campaign_id: str | None) -> None:
    if campaign_id is None:
        await conn.execute("DELETE FROM campaign_numbers WHERE org_id = $1 AND e164 = $2", org_id, e164)
        return
    await conn.execute(
        "INSERT INTO campaign_numbers (org_id, e164, campaign_id) VALUES ($1,$2,$3)"
        " ON CONFLICT (org_id, e164) DO UPDATE SET campaign_id = $3", org_id, e164, campaign_id)


async def campaign_of(conn: asyncpg.Connection | asyncpg.Pool, org_id: str,
                      e164: str) -> tuple[Campaign, str, str, str] | None:
    """The campaign's own keywords for texts to this number, and its opt-out, help and opt-in messages."""
    row = await conn.fetchrow(
        "SELECT c.opt_out_keywords, c.opt_out_message, c.help_keywords, c.help_message, c.opt_in_keywords,"
        " c.opt_in_message FROM campaign_numbers n"
        " JOIN campaigns c ON c.campaign_id = n.campaign_id WHERE n.org_id = $1 AND n.e164 = $2", org_id, e164)
    if row is None:
        return None
    return (Campaign(frozenset(row["opt_out_keywords"]), frozenset(row["help_keywords"]),
                     frozenset(row["opt_in_keywords"])), row["opt_out_message"], row["help_message"],
            row["opt_in_message"])


async def campaign_keyword_hits(pool: asyncpg.Pool, items: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Of ``(org_id, number, keyword)``, those where the keyword is one of the number's campaign's own."""
    if not items:
        return set()
    rows = await pool.fetch(
        "SELECT q.org_id, q.e164, q.kw FROM unnest($1::text[], $2::text[], $3::text[]) AS q(org_id, e164, kw)"
        " JOIN campaign_numbers n ON n.org_id = q.org_id AND n.e164 = q.e164"
        " JOIN campaigns c ON c.campaign_id = n.campaign_id"
        " WHERE q.kw = ANY(c.opt_out_keywords) OR q.kw = ANY(c.help_keywords) OR q.kw = ANY(c.opt_in_keywords)",
        *[list(col) for col in zip(*items, strict=True)])
    return {(r["org_id"], r["e164"], r["kw"]) for r in rows}


def reason_code(d: GateDecision) -> str | None:
    """What a decision is filtered by as its reason: the deny code, or for a defer the deferring checks'
    names in upper case (QUIET_HOURS); None for an allow."""
    if d.code:
        return d.code
    if d.decision == "defer":
        return ",".join(k.name.upper() for k in d.checks if k.result == "defer") or None
    return None


def row_dict(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row.items())
