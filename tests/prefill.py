"""Pre-fill a stack's PostgreSQL with months of old traffic, fast, for the cost-as-data-grows bench.

    python -m tests.prefill --orgs 1000 --messages 1000000 --inbound 200000   # AM_DATABASE_URL, AM_SUBJECT_ROOT

Not through the API (a million sends would take the bench's whole budget): rows are built in Python
from the real proto event classes and their encoder (``proto.events.encode_event``, the same columns
``EventStore`` writes: stream, version, id, type, subject, org, data, headers), and the read models the
services project from those events are written beside them, then both are loaded with binary COPY.
Per organization: the organization, its owner, an API key (secret: ``api_key_secret(seed, i)``), a
signup credit grant, a balance; an active phone number; ``--contacts`` contacts with web-form consent.
Per message (delivered, spread over the last ``--days`` days): outbound's four events
(MessageQueued with the facts, MessageSending, MessageSent, MessageDelivered), its ``messages`` row and
four timeline entries; compliance's page of its two gate decisions (GateDecisionsRecorded, the
``gate_decisions`` and ``frequency_sends`` rows); accounts' reservation (CreditReserved, CreditCaptured, the ``reservations`` and
``ledger`` rows); carrier's ``submissions`` and ``carrier_ids`` rows. Per inbound text: the
InboundMessageReceived event, its ``inbound_messages`` row (numbered per organization) and a succeeded
``webhook_deliveries`` row; inbound's conversations (``conversations``, ``conversation_messages``) of
both; each consumer's ``processed_events`` record of what it handled. Each event's ``recorded_at`` is its ``occurred_at``, so retention by age
(``libs/store/archive.py``) sees the data as old.

Old events are not news: the loading session runs with ``session_replication_role = replica``, which
leaves out the trigger that lists appended events in ``outbox``, so no relay publishes them. That setting
needs a superuser (the embedded PostgreSQL's and a test server's user is one). The schemas are migrated
first, so the stack may be started before or after.

Sizes: 1,000 organizations of 1,000 messages (7 events each) + 200,000 inbound texts = 7.2 M events,
1 M messages.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from libs.store.db import create_pool, migrate
from proto.base import Event
from proto.commands.compliance import evidence_view
from proto.events import encode_event
from proto.events.accounts import (
    ApiKeyCreated,
    CreditCaptured,
    CreditGranted,
    CreditReserved,
    OrganizationCreated,
)
from proto.events.compliance import (
    ConsentEvidence,
    ConsentGranted,
    DecisionCheck,
    GateDecision,
    GateDecisionsRecorded,
)
from proto.events.inbound import InboundMessageReceived
from proto.events.numbers import PhoneNumberOrdered
from proto.events.outbound import MessageDelivered, MessageFacts, MessageQueued, MessageSending, MessageSent
from proto.subjects import Subjects
from services.inbound.conversations import ANSWERS, INBOUND_CONSUMER, OUTBOUND_CONSUMER, conversation_id

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("accounts", "numbers", "compliance", "carrier", "outbound", "inbound")
_NS = uuid.UUID("6f1d7a52-3c1e-4b8e-9a57-2b1f0c9d4e11")
_B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
PRICE_MICROS = 7_900  # one GSM-7 segment
SIGNUP_CREDIT = 1_000_000_000  # $1,000
EVENT_COLUMNS = ("stream_id", "version", "event_id", "event_type", "subject", "org_id", "data", "headers",
                 "recorded_at")
_empty_headers = "{}"
_CREDIT, _KEYWORDS, _RECEIPTS = "accounts-message-credit", "compliance-keywords", "outbound-receipts"
_CHECKS = [DecisionCheck(name=n, result="pass") for n in ("opt_out", "consent", "quiet_hours", "frequency_cap")]
_CHECKS_JSON = msgspec.json.encode(_CHECKS).decode()


def det_id(seed: int, *parts: object) -> str:
    """A UUID that follows from the seed and the parts: the same generator run makes the same ids."""
    return str(uuid.uuid5(_NS, ":".join(map(str, (seed, *parts)))))


def api_key_secret(seed: int, org: int) -> str:
    """The API key of generated organization ``org`` (``am_live_`` + 40 base62 characters)."""
    digest = hashlib.sha512(f"prefill:{seed}:{org}".encode()).digest()
    return "am_live_" + "".join(_B62[b % 62] for b in digest[:40])


def org_number(seed: int, org: int) -> str:
    """The generated organization's number (area code 7xx by seed, never the simulator's search results;
    up to 10,000 organizations)."""
    return f"+1{700 + seed % 100:03d}555{org:04d}"


def contact_number(seed: int, org: int, k: int) -> str:
    """Contact ``k`` of organization ``org`` (up to 1,000 contacts)."""
    return f"+1{600 + seed % 100:03d}{org:04d}{k:03d}"


@dataclass
class Batch:
    """Rows for COPY, per schema and table."""

    rows: dict[tuple[str, str], list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, schema: str, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault((schema, table), []).append(row)


class Generator:
    def __init__(self, subjects: Subjects, *, orgs: int, messages: int, inbound: int, contacts: int = 50,
                 days: int = 90, seed: int = 1, now: datetime | None = None):
        self.subjects, self.orgs, self.messages, self.inbound = subjects, orgs, messages, inbound
        self.contacts, self.days, self.seed = contacts, days, seed
        self.now = now or datetime.now(UTC)
        self.start = self.now - timedelta(days=days)
        self.rng = random.Random(seed)
        self.conversations: dict[str, list[Any]] = {}
        assert orgs <= 10_000 and contacts <= 1_000, "numbers are numbered up to 10,000 orgs, 1,000 contacts"

    def schema(self, service: str) -> str:
        return self.subjects.schema(service)

    def event(self, b: Batch, service: str, stream: str, version: int, ev: Event) -> None:
        subject = self.subjects.event(ev.DOMAIN, ev.AGGREGATE, ev.subject_token(), ev.org_id)
        b.add(self.schema(service), "events", (stream, version, uuid.UUID(ev.event_id), ev.type_name(), subject,
                                              ev.org_id, encode_event(ev).decode(), _empty_headers,
                                              ev.occurred_at))

    def org_id(self, i: int) -> str:
        return det_id(self.seed, "org", i)

    def number_id(self, i: int) -> str:
        return det_id(self.seed, "number", i)

    def when(self, fraction: float) -> datetime:
        """The moment ``fraction`` of the way through the filled period (which ends an hour ago), give or
        take a second: rows are made in time order, so positions grow with time as they do live."""
        span = (self.now - self.start).total_seconds() - 3600
        return self.start + timedelta(seconds=fraction * span + self.rng.random())

    def setup(self, b: Batch, i: int) -> None:
        """The organization, its owner and key, credit, number and consented contacts."""
        org, at = self.org_id(i), self.start - timedelta(days=1)
        user, key, grant = det_id(self.seed, "user", i), det_id(self.seed, "key", i), det_id(self.seed, "grant", i)
        email = f"prefill-{self.seed}-{i}@example.com"
        a = self.schema("accounts")
        b.add(a, "organizations", (uuid.UUID(org), f"Prefill {i}", at))
        b.add(a, "users", (uuid.UUID(user), uuid.UUID(org), email, "$argon2id$prefill$not-a-login", at))
        self.event(b, "accounts", f"organization-{org}", 1, OrganizationCreated(
            org_id=org, name=f"Prefill {i}", owner_user_id=user, owner_email=email, occurred_at=at))
        secret = api_key_secret(self.seed, i)
        b.add(a, "api_keys", (uuid.UUID(key), uuid.UUID(org), "default", secret[:12],
                              hashlib.sha256(secret.encode()).hexdigest(), at))
        self.event(b, "accounts", f"api_key-{key}", 1, ApiKeyCreated(
            org_id=org, key_id=key, name="default", prefix=secret[:12], occurred_at=at))
        spent = PRICE_MICROS * (self.messages // self.orgs + (i < self.messages % self.orgs))
        b.add(a, "balances", (uuid.UUID(org), SIGNUP_CREDIT - spent))
        b.add(a, "ledger", (uuid.UUID(grant), uuid.UUID(org), "grant", SIGNUP_CREDIT, "signup credit", "", at))
        self.event(b, "accounts", f"credit-grant-{grant}", 1, CreditGranted(
            org_id=org, entry_id=grant, amount_micros=SIGNUP_CREDIT, reason="signup credit", occurred_at=at))
        num, order = self.number_id(i), det_id(self.seed, "order", i)
        b.add(self.schema("numbers"), "phone_numbers", (
            uuid.UUID(num), uuid.UUID(org), org_number(self.seed, i), "active", uuid.UUID(order), 1, 1_150_000, at))
        self.event(b, "numbers", f"phone_number-{num}", 1, PhoneNumberOrdered(
            org_id=org, phone_number_id=num, e164=org_number(self.seed, i), order_id=order, monthly_price_micros=1_150_000,
            capabilities=["sms", "mms"], occurred_at=at))
        c = self.schema("compliance")
        for k in range(self.contacts):
            contact, consent = contact_number(self.seed, i, k), det_id(self.seed, "consent", i, k)
            evidence = ConsentEvidence(disclosure_text="I agree to receive texts. Reply STOP to opt out.",
                                       captured_at=at)
            b.add(c, "contacts", (org, contact, 1, consent, "web_form", at,
                                  msgspec.json.encode(evidence_view(evidence)).decode(), at, at))
            self.event(b, "compliance", f"contact-{org}:{contact}", 1, ConsentGranted(
                org_id=org, contact_number=contact, consent_id=consent, method="web_form", evidence=evidence,
                occurred_at=at))

    def message(self, b: Batch, i: int, n: int, t0: datetime) -> None:
        """One delivered message of organization ``i``: its events and read-model rows in four services."""
        org, mid = self.org_id(i), det_id(self.seed, "msg", i, n)
        to, text = contact_number(self.seed, i, n % self.contacts), f"Prefill {i}: your order {n} shipped. Reply STOP to opt out."
        times = [t0 + timedelta(milliseconds=ms) for ms in (0, 40, 90, 600)]
        cid = f"sim-{det_id(self.seed, 'cid', i, n)}"
        expires = t0 + timedelta(seconds=36_000)
        facts = MessageFacts(from_=org_number(self.seed, i), to=to, text=text, segments=1, encoding="GSM-7",
                             price_micros=PRICE_MICROS, category="conversational", kind="standard",
                             phone_number_id=self.number_id(i), expires_at=expires)
        evs: list[Event] = [
            MessageQueued(org_id=org, message_id=mid, facts=facts, occurred_at=times[0]),
            MessageSending(org_id=org, message_id=mid, occurred_at=times[1]),
            MessageSent(org_id=org, message_id=mid, carrier_message_id=cid, reservation_id=mid, occurred_at=times[2]),
            MessageDelivered(org_id=org, message_id=mid, carrier_message_id=cid, delivered_at=times[3],
                             occurred_at=times[3]),
        ]
        o, mu, ou = self.schema("outbound"), uuid.UUID(mid), uuid.UUID(org)
        for v, (ev, status) in enumerate(zip(evs, ("queued", "sending", "sent", "delivered"), strict=True), 1):
            self.event(b, "outbound", f"message-{mid}", v, ev)
            b.add(o, "message_timeline", (mu, v, status, None, ev.occurred_at, uuid.UUID(ev.event_id)))
        b.add(o, "messages", (mu, ou, 4, facts.from_, to, text, "delivered", "conversational", "standard", 1, "GSM-7",
                              PRICE_MICROS, facts.phone_number_id, "", 0, 36_000, expires, t0, 1, cid, t0,
                              times[3]))
        a = self.schema("accounts")
        self.event(b, "accounts", f"reservation-{mid}", 1, CreditReserved(
            org_id=org, reservation_id=mid, amount_micros=PRICE_MICROS, reason="message", reference=mid,
            occurred_at=t0))
        self.event(b, "accounts", f"reservation-{mid}", 2, CreditCaptured(
            org_id=org, reservation_id=mid, amount_micros=PRICE_MICROS, occurred_at=times[2]))
        b.add(a, "reservations", (mid, ou, PRICE_MICROS, "captured", "message", mid, t0))
        b.add(a, "ledger", (uuid.UUID(det_id(self.seed, "debit", i, n)), ou, "debit", -PRICE_MICROS, "message", mid,
                            t0))
        self.decisions(b, i, mid, facts.from_, to, (t0, times[1]))
        self.converse(b, org, "outbound", facts.from_, to, mid, text, "delivered", t0, "standard" in ANSWERS)
        self.handled(b, "accounts", _CREDIT, evs[2])  # accounts captured the credit on MessageSent
        for ev in (evs[0], evs[2], evs[3]):  # inbound's conversations took the text and its statuses
            self.handled(b, "inbound", OUTBOUND_CONSUMER, ev)
        b.add(o, "processed_events", (_RECEIPTS, uuid.UUID(det_id(self.seed, "receipt", mid)), times[3]))
        ca = self.schema("carrier")
        b.add(ca, "submissions", (mu, org, "smpp", "submitted", cid, 1, "DELIVRD", times[2], times[1], times[3]))
        b.add(ca, "carrier_ids", (cid, mu, 1, "DELIVRD", times[3]))

    def handled(self, b: Batch, service: str, consumer: str, ev: Event) -> None:
        """A consumer's record of an event it handled (``processed_events``), as it writes it."""
        b.add(self.schema(service), "processed_events", (consumer, uuid.UUID(ev.event_id), ev.occurred_at))

    def converse(self, b: Batch, org: str, direction: str, number: str, contact: str, mid: str, body: str,
                 status: str | None, at: datetime, answers: bool) -> None:
        """inbound's conversations read model: the message, and its conversation's totals (written last)."""
        conv = conversation_id(org, number, contact)
        b.add(self.schema("inbound"), "conversation_messages", (
            uuid.UUID(mid), uuid.UUID(conv), uuid.UUID(org), direction, number if direction == "outbound" else contact,
            contact if direction == "outbound" else number, body, status, at))
        c = self.conversations.get(conv)
        if c is None:
            c = self.conversations[conv] = [org, number, contact, mid, at, 0, 0, at]
        c[3], c[4], c[5] = mid, at, c[5] + 1
        c[6] = c[6] + 1 if direction == "inbound" else 0 if answers else c[6]

    def decisions(self, b: Batch, i: int, mid: str, from_: str, to: str, at: tuple[datetime, datetime]) -> None:
        """The gate's two allows of a message (at acceptance and before submission) on a page of the
        compliance ledger, and its row in the frequency count."""
        org, c = self.org_id(i), self.schema("compliance")
        page = GateDecisionsRecorded(org_id=org, occurred_at=at[1], decisions=[GateDecision(
            decision_id=det_id(self.seed, "decision", mid, stage), message_id=mid, decided_at=when, stage=stage,
            from_number=from_, contact_number=to, kind="standard", category="conversational", decision="allow",
            checks=_CHECKS) for stage, when in zip(("accept", "submit"), at, strict=True)])
        self.event(b, "compliance", f"decisions-{page.event_id}", 1, page)
        for d in page.decisions:
            b.add(c, "gate_decisions", (org, uuid.UUID(d.decision_id), d.decided_at, mid, d.stage, from_, to,
                                        d.kind, d.category, "allow", "", _CHECKS_JSON, uuid.UUID(page.event_id)))
        b.add(c, "frequency_sends", (mid, org, to, "conversational", at[0]))

    def inbound_text(self, b: Batch, i: int, seq: int, at: datetime) -> None:
        org, mid = self.org_id(i), det_id(self.seed, "mo", i, seq)
        cid = f"sim-{det_id(self.seed, 'mocid', i, seq)}"
        ev = InboundMessageReceived(org_id=org, message_id=mid, carrier_message_id=cid,
                                    phone_number_id=self.number_id(i), from_=contact_number(self.seed, i, seq % self.contacts),
                                    to=org_number(self.seed, i), body=f"thanks, got it ({seq})", received_at=at,
                                    occurred_at=at)
        self.event(b, "inbound", f"inbound_message-{mid}", 1, ev)
        self.converse(b, org, "inbound", ev.to, ev.from_, mid, ev.body, None, at, False)
        self.handled(b, "inbound", INBOUND_CONSUMER, ev)
        self.handled(b, "compliance", _KEYWORDS, ev)
        n = self.schema("inbound")
        b.add(n, "inbound_messages", (uuid.UUID(mid), org, seq, cid, ev.phone_number_id, uuid.UUID(ev.event_id),
                                      ev.from_, ev.to, ev.body, at, at))
        b.add(n, "webhook_deliveries", (uuid.UUID(det_id(self.seed, "hook", i, seq)), org, uuid.UUID(mid),
                                        ev.phone_number_id, "succeeded", 1, at, at, at))

    def batches(self, per_batch: int = 20_000) -> Iterator[Batch]:
        """Setup first, then messages and inbound texts interleaved in time order, ``per_batch`` at a time
        (round robin over the organizations)."""
        b = Batch()
        for i in range(self.orgs):
            self.setup(b, i)
        yield b
        b, count, mo = Batch(), 0, 0
        seqs = [0] * self.orgs
        total = self.messages + self.inbound
        for n in range(self.messages):
            self.message(b, n % self.orgs, n // self.orgs, self.when((n + mo) / total))
            count += 1
            while mo < self.inbound and mo * self.messages <= n * self.inbound:
                i = mo % self.orgs
                seqs[i] += 1
                self.inbound_text(b, i, seqs[i], self.when((n + mo) / total))
                mo, count = mo + 1, count + 1
            if count >= per_batch:
                yield b
                b, count = Batch(), 0
        for i in range(self.orgs):
            if seqs[i]:
                b.add(self.schema("inbound"), "org_sequences", (self.org_id(i), seqs[i]))
        for conv, (org, number, contact, last_id, last_at, count, unread, created) in self.conversations.items():
            b.add(self.schema("inbound"), "conversations", (uuid.UUID(conv), uuid.UUID(org), number, contact,
                                                            uuid.UUID(last_id), last_at, count, unread, created))
        yield b


COLUMNS: dict[str, tuple[str, ...]] = {
    "events": EVENT_COLUMNS,
    "organizations": ("id", "name", "created_at"),
    "users": ("id", "org_id", "email", "password_hash", "created_at"),
    "api_keys": ("id", "org_id", "name", "prefix", "key_hash", "created_at"),
    "balances": ("org_id", "available_micros"),
    "ledger": ("id", "org_id", "kind", "amount_micros", "reason", "reference", "created_at"),
    "reservations": ("id", "org_id", "amount_micros", "state", "reason", "reference", "created_at"),
    "phone_numbers": ("id", "org_id", "e164", "status", "order_id", "version", "monthly_price_micros", "created_at"),
    "contacts": ("org_id", "contact", "version", "consent_id", "consent_method", "consent_granted_at",
                 "consent_evidence", "created_at", "updated_at"),
    "messages": ("id", "org_id", "version", "from_number", "to_number", "body", "status", "category", "kind",
                 "segments", "encoding", "price_micros", "phone_number_id", "campaign_id", "throughput_mpm",
                 "validity_seconds", "expires_at", "next_attempt_at", "attempts", "carrier_message_id",
                 "created_at", "updated_at"),
    "gate_decisions": ("org_id", "decision_id", "decided_at", "message_id", "stage", "from_number",
                       "contact_number", "kind", "category", "outcome", "reason", "checks", "page_event_id"),
    "frequency_sends": ("message_id", "org_id", "contact", "category", "at"),
    "message_timeline": ("message_id", "seq", "status", "reason", "at", "event_id"),
    "submissions": ("message_id", "org_id", "adapter", "state", "carrier_message_id", "parts", "receipt_status",
                    "submitted_at", "created_at", "updated_at"),
    "carrier_ids": ("carrier_message_id", "message_id", "part", "stat", "receipt_at"),
    "inbound_messages": ("id", "org_id", "seq", "carrier_message_id", "phone_number_id", "event_id", "from_number",
                         "to_number", "body", "received_at", "stored_at"),
    "webhook_deliveries": ("id", "org_id", "message_id", "phone_number_id", "state", "attempts", "queued_at",
                           "completed_at", "created_at"),
    "org_sequences": ("org_id", "last_seq"),
    "processed_events": ("consumer", "event_id", "processed_at"),
    "conversation_messages": ("id", "conversation_id", "org_id", "direction", "from_number", "to_number", "body",
                              "status", "at"),
    "conversations": ("id", "org_id", "phone_number", "contact_number", "last_message_id", "last_at",
                      "message_count", "unread_count", "created_at"),
}
# parents before children (the replica role skips foreign-key checks, but keep the order honest)
_ORDER = ["organizations", "users", "api_keys", "balances", "inbound_messages"]


async def migrate_all(db_url: str, subjects: Subjects) -> None:
    for svc in SERVICES:
        schema = subjects.schema(svc)
        pool = await create_pool(db_url, schema, max_size=1)
        try:
            await migrate(pool, schema, ROOT / "services" / svc / "sql")
        finally:
            await pool.close()


async def load(conn: asyncpg.Connection, b: Batch, schema: str) -> int:
    """One schema's rows of a batch, in one transaction."""
    events = 0
    tables = sorted((t for s, t in b.rows if s == schema), key=lambda t: (_ORDER.index(t) if t in _ORDER else 99, t))
    async with conn.transaction():
        for table in tables:
            rows = b.rows[(schema, table)]
            await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table], schema_name=schema)
            if table == "events":
                events += len(rows)
    return events


async def _session(db_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(db_url)
    await conn.execute("SET session_replication_role = replica")  # no outbox rows: old news is not news
    await conn.execute("SET synchronous_commit = off")
    return conn


async def prefill(db_url: str, subjects: Subjects, *, orgs: int, messages: int, inbound: int, contacts: int = 50,
                  days: int = 90, seed: int = 1, say: Any = print) -> dict[str, float]:
    """Fill the schemas of ``subjects`` (migrated first); answers counts and the time it took."""
    t = time.perf_counter()
    await migrate_all(db_url, subjects)
    gen = Generator(subjects, orgs=orgs, messages=messages, inbound=inbound, contacts=contacts, days=days,
                    seed=seed)
    schemas = [subjects.schema(svc) for svc in SERVICES]
    conns = {schema: await _session(db_url) for schema in schemas}  # one per schema, loading side by side
    events = 0
    try:
        done = said = 0
        for b in gen.batches():
            events += sum(await asyncio.gather(*(load(conns[schema], b, schema) for schema in schemas)))
            done += len(b.rows.get((gen.schema("outbound"), "messages"), []))
            if done >= said + 100_000:
                said = done
                say(f"prefill: {done:,} messages, {events:,} events, {time.perf_counter() - t:,.0f} s")
        for schema in schemas:
            await conns[schema].execute(f'ANALYZE "{schema}".events')
        for table in ("messages", "message_timeline"):
            await conns[schemas[0]].execute(f'ANALYZE "{subjects.schema("outbound")}".{table}')
    finally:
        for conn in conns.values():
            await conn.close()
    return {"orgs": orgs, "messages": messages, "inbound": inbound, "events": events,
            "seconds": time.perf_counter() - t}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=os.environ.get("AM_DATABASE_URL", ""))
    p.add_argument("--subject-root", default=os.environ.get("AM_SUBJECT_ROOT", "am"))
    p.add_argument("--orgs", type=int, default=1000)
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--inbound", type=int, default=200_000)
    p.add_argument("--contacts", type=int, default=50, help="consented contacts per organization")
    p.add_argument("--days", type=int, default=90, help="the period the old traffic is spread over")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if not a.database_url:
        p.error("--database-url or AM_DATABASE_URL (a `make run` stack's: postgresql://…:AM_PG_PORT/…)")
    out = asyncio.run(prefill(a.database_url, Subjects(a.subject_root), orgs=a.orgs, messages=a.messages,
                              inbound=a.inbound, contacts=a.contacts, days=a.days, seed=a.seed))
    print(" ".join(f"{k}={v:,.0f}" for k, v in out.items()))


if __name__ == "__main__":
    main()
