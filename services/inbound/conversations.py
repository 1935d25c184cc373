"""Conversations: a read model of every (organization, number, contact) pair with its messages in both
directions, built from events — outbound's message events (the text as accepted, its later statuses)
and this service's own InboundMessageReceived — by two durable consumers, each recording the events it
handled in the transaction of its effects (a redelivery changes nothing; the model can be rebuilt by
replaying the streams). Inbound never asks outbound anything: they meet only on NATS.

unread_count counts inbound messages since the conversation was last read (its first page of messages
listed) or answered (a message sent to the contact; automatic keyword replies do not count)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from libs.bus.consumer import ConsumerSpec
from libs.otp import find_otp
from libs.store.eventstore import EventStore
from libs.store.processed import claim
from proto.api import page_after, time_cursor
from proto.base import Event, NotFound, parse_uuid, rfc3339
from proto.commands import inbound as c
from proto.events.inbound import InboundMessageReceived
from proto.events.outbound import (
    MessageCanceled,
    MessageDelivered,
    MessageFailed,
    MessageQueued,
    MessageScheduled,
    MessageSent,
    MessageUndelivered,
)

OUTBOUND_CONSUMER = "inbound-conversations-outbound"
INBOUND_CONSUMER = "inbound-conversations-inbound"
_NS = uuid.UUID("5d0c1c1e-6a57-4c57-9d0f-4a1c0e8f19a7")

ANSWERS = frozenset({"standard", "opt_in_request"})
"""Outbound kinds that answer a contact (reset unread); keyword and opt-out auto-replies do not."""

_ABSORB = (
    # the batch's events claimed; of those claimed: each new message (its first event) inserted with the
    # last status its events gave it, the conversations it was added to updated once each (its count, its
    # unread texts: the contact's since the last answer, an answer among them resets the count; its last
    # message), and the last status of a message already there applied. One statement, one snapshot: the
    # status update does not see the rows inserted beside it (they are inserted with their status).
    "WITH claimed AS (INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])"
    "  ON CONFLICT DO NOTHING RETURNING event_id),"
    " st AS (SELECT DISTINCT ON (s.id) s.id, s.org, s.status FROM unnest($16::uuid[], $17::int[], $18::uuid[],"
    "  $19::uuid[], $20::text[]) AS s(ev, ord, id, org, status) WHERE s.ev IN (SELECT event_id FROM claimed)"
    "  ORDER BY s.id, s.ord DESC),"
    " nw AS (SELECT DISTINCT ON (n.id) n.* FROM unnest($3::uuid[], $4::int[], $5::uuid[], $6::uuid[], $7::uuid[],"
    "  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::bool[])"
    "  AS n(ev, ord, id, conv, org, dir, num, contact, frm, to_, body, at, answers)"
    "  WHERE n.ev IN (SELECT event_id FROM claimed) ORDER BY n.id, n.ord),"
    " ins AS (INSERT INTO conversation_messages (id, conversation_id, org_id, direction, from_number, to_number,"
    "  body, status, at) SELECT nw.id, nw.conv, nw.org, nw.dir, nw.frm, nw.to_, nw.body,"
    "  CASE WHEN nw.dir = 'outbound' THEN st.status END, nw.at FROM nw LEFT JOIN st ON st.id = nw.id"
    "  ORDER BY nw.id ON CONFLICT (id) DO NOTHING RETURNING id),"
    " added AS (SELECT * FROM nw WHERE nw.id IN (SELECT id FROM ins)),"
    " answer AS (SELECT conv, max(ord) AS ord FROM added WHERE dir = 'outbound' AND answers GROUP BY conv),"
    " agg AS (SELECT a.conv, min(a.org::text)::uuid AS org, min(a.num) AS num, min(a.contact) AS contact,"
    "  count(*)::int AS n, (count(*) FILTER (WHERE a.dir = 'inbound' AND a.ord > coalesce(w.ord, -1)))::int AS unread,"
    "  w.ord IS NOT NULL AS answered FROM added a LEFT JOIN answer w USING (conv) GROUP BY a.conv, w.ord),"
    " lst AS (SELECT DISTINCT ON (conv) conv, id, at FROM added ORDER BY conv, at DESC, ord DESC),"
    " upsert AS (INSERT INTO conversations AS v (id, org_id, phone_number, contact_number, last_message_id, last_at,"
    "  message_count, unread_count, created_at) SELECT agg.conv, agg.org, agg.num, agg.contact, lst.id, lst.at,"
    "  agg.n, agg.unread, lst.at FROM agg JOIN lst USING (conv) ORDER BY agg.conv"
    "  ON CONFLICT (org_id, phone_number, contact_number) DO UPDATE SET"
    "  message_count = v.message_count + EXCLUDED.message_count,"
    "  unread_count = CASE WHEN v.id IN (SELECT conv FROM agg WHERE answered) THEN EXCLUDED.unread_count"
    "   ELSE v.unread_count + EXCLUDED.unread_count END,"
    "  last_message_id = CASE WHEN EXCLUDED.last_at >= v.last_at THEN EXCLUDED.last_message_id"
    "   ELSE v.last_message_id END,"
    "  last_at = greatest(v.last_at, EXCLUDED.last_at)),"
    # (the rows found by the batch's ids, an index condition: joined to ``st`` alone, a table grown since its
    # last ANALYZE looked small enough to the planner to walk its whole primary key, 30 ms a batch at 20,000)
    " upd AS (UPDATE conversation_messages m SET status = st.status FROM st"
    "  WHERE m.id = ANY($18::uuid[]) AND m.id = st.id AND m.org_id = st.org AND m.status IS DISTINCT FROM st.status)"
    " SELECT count(*) FROM claimed"
)

_STATUS = {MessageSent: "sent", MessageDelivered: "delivered", MessageUndelivered: "undelivered",
           MessageFailed: "failed", MessageCanceled: "canceled"}


def conversation_id(org_id: str, phone_number: str, contact_number: str) -> str:
    """Stable: both producers' events land on the same conversation without asking each other."""
    return str(uuid.uuid5(_NS, f"{org_id}|{phone_number}|{contact_number}"))


def absorb_statement(consumer: str, events: list[Event]) -> tuple[object, ...]:
    """The bulk path's statement for a batch of ``consumer``'s events, with its arguments."""
    # (event, order, message, conversation, org, direction, number, contact, from, to, text, at, answers)
    new: list[tuple[object, ...]] = []
    statuses: list[tuple[object, ...]] = []  # (event, order, message, org, status)
    for k, ev in enumerate(events):
        match ev:
            case MessageQueued(facts=facts) | MessageScheduled(facts=facts):
                if facts is not None:
                    new.append((ev.event_id, k, ev.message_id, conversation_id(ev.org_id, facts.from_, facts.to),
                                ev.org_id, "outbound", facts.from_, facts.to, facts.from_, facts.to, facts.text,
                                ev.occurred_at, facts.kind in ANSWERS))
                statuses.append((ev.event_id, k, ev.message_id, ev.org_id,
                                 "queued" if isinstance(ev, MessageQueued) else "scheduled"))
            case InboundMessageReceived():
                new.append((ev.event_id, k, ev.message_id, conversation_id(ev.org_id, ev.to, ev.from_), ev.org_id,
                            "inbound", ev.to, ev.from_, ev.from_, ev.to, ev.body, ev.received_at, False))
            case _ if type(ev) in _STATUS:
                statuses.append((ev.event_id, k, ev.message_id, ev.org_id, _STATUS[type(ev)]))  # type: ignore[attr-defined]
    return (_ABSORB, consumer, [ev.event_id for ev in events], *([r[j] for r in new] for j in range(13)),
            *([r[j] for r in statuses] for j in range(5)))


class Conversations:
    def __init__(self, store: EventStore):
        self.store = store
        self.pool: asyncpg.Pool = store.pool

    # -- building the model ------------------------------------------------------------------------
    async def _add(self, conn: asyncpg.Connection, *, org_id: str, message_id: str, direction: str, number: str,
                   contact: str, from_: str, to: str, body: str, status: str | None, at: datetime,
                   answers: bool = False) -> None:
        conv = conversation_id(org_id, number, contact)
        inserted = await conn.fetchval(
            "INSERT INTO conversation_messages (id, conversation_id, org_id, direction, from_number, to_number, body,"
            " status, at) VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (id) DO NOTHING RETURNING 1",
            message_id, conv, org_id, direction, from_, to, body, status, at)
        if not inserted:
            return
        inbound = direction == "inbound"
        await conn.execute(
            "INSERT INTO conversations AS v (id, org_id, phone_number, contact_number, last_message_id, last_at,"
            " message_count, unread_count, created_at) VALUES ($1::uuid, $2::uuid, $3, $4, $5::uuid, $6, 1, $7, $6)"
            " ON CONFLICT (org_id, phone_number, contact_number) DO UPDATE SET"
            " message_count = v.message_count + 1,"
            " unread_count = CASE WHEN $8 THEN v.unread_count + 1 WHEN $9 THEN 0 ELSE v.unread_count END,"
            " last_message_id = CASE WHEN $6 >= v.last_at THEN $5::uuid ELSE v.last_message_id END,"
            " last_at = greatest(v.last_at, $6)",
            conv, org_id, number, contact, message_id, at, 1 if inbound else 0, inbound, answers)

    async def on_outbound(self, ev: Event) -> None:
        async with self.store.transaction() as conn:
            if not await claim(conn, OUTBOUND_CONSUMER, ev.event_id):
                return
            match ev:
                case MessageQueued(facts=facts) | MessageScheduled(facts=facts) if facts is not None:
                    status = "queued" if isinstance(ev, MessageQueued) else "scheduled"
                    await self._add(conn, org_id=ev.org_id, message_id=ev.message_id, direction="outbound",
                                    number=facts.from_, contact=facts.to, from_=facts.from_, to=facts.to,
                                    body=facts.text, status=status, at=ev.occurred_at,
                                    answers=facts.kind in ANSWERS)
                case MessageQueued() | MessageScheduled():
                    status = "queued" if isinstance(ev, MessageQueued) else "scheduled"
                    await self._status(conn, ev.org_id, ev.message_id, status)
                case _ if type(ev) in _STATUS:
                    await self._status(conn, ev.org_id, ev.message_id, _STATUS[type(ev)])  # type: ignore[attr-defined]

    async def _status(self, conn: asyncpg.Connection, org_id: str, message_id: str, status: str) -> None:
        await conn.execute("UPDATE conversation_messages SET status = $3 WHERE id = $1::uuid AND org_id = $2::uuid",
                           message_id, org_id, status)

    async def on_inbound(self, ev: Event) -> None:
        if not isinstance(ev, InboundMessageReceived):
            return
        received = ev.received_at
        async with self.store.transaction() as conn:
            if not await claim(conn, INBOUND_CONSUMER, ev.event_id):
                return
            await self._add(conn, org_id=ev.org_id, message_id=ev.message_id, direction="inbound", number=ev.to,
                            contact=ev.from_, from_=ev.from_, to=ev.to, body=ev.body, status=None, at=received)

    # -- the bulk path: a fetched batch in one transaction -----------------------------------------------
    async def absorb_outbound(self, events: list[Event]) -> set[str]:
        return await self._absorb(OUTBOUND_CONSUMER, events)

    async def absorb_inbound(self, events: list[Event]) -> set[str]:
        return await self._absorb(INBOUND_CONSUMER, events)

    async def _absorb(self, consumer: str, events: list[Event]) -> set[str]:
        """A batch in one statement (one round trip, no transaction to open and commit): its events
        claimed, the new messages of those claimed inserted together, each conversation touched updated
        once, each message's last status among them applied (events are taken in stream order, so the
        last one wins). The same effects as the one-by-one handlers."""
        await self.pool.execute(*absorb_statement(consumer, events))
        return {ev.event_id for ev in events}

    def specs(self) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(durable=OUTBOUND_CONSUMER, handler=self.on_outbound, absorb=self.absorb_outbound,
                         events=(MessageQueued, MessageScheduled, MessageSent, MessageDelivered, MessageUndelivered,
                                 MessageFailed, MessageCanceled)),
            ConsumerSpec(durable=INBOUND_CONSUMER, events=(InboundMessageReceived,), handler=self.on_inbound,
                         absorb=self.absorb_inbound),
        ]

    # -- reading it --------------------------------------------------------------------------------
    async def list(self, cmd: c.ListConversations) -> c.ConversationPage:
        at, ident = page_after(cmd.cursor, key=str)
        rows = await self.pool.fetch(
            f"SELECT {_CONV} FROM conversations v LEFT JOIN conversation_messages m ON m.id = v.last_message_id"
            " WHERE v.org_id = $1::uuid AND ($2::text IS NULL OR v.phone_number = $2)"
            " AND ($3::text IS NULL OR v.contact_number = $3)"
            " AND ($4::timestamptz IS NULL OR (v.last_at, v.id) < ($4, $5::uuid))"
            " ORDER BY v.last_at DESC, v.id DESC LIMIT $6",
            cmd.org_id, cmd.phone_number, cmd.contact_number, at, ident, cmd.limit + 1)
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        nxt = time_cursor(rows[-1]["last_at"], rows[-1]["id"]) if more else None
        return c.ConversationPage(data=[_conversation(r) for r in rows], next_cursor=nxt)

    async def get(self, cmd: c.GetConversation) -> c.ConversationView:
        return _conversation(await self._row(cmd.org_id, cmd.conversation_id))

    async def _row(self, org_id: str, conv_id: str) -> asyncpg.Record:
        row = None
        if parse_uuid(conv_id):
            row = await self.pool.fetchrow(
                f"SELECT {_CONV} FROM conversations v LEFT JOIN conversation_messages m ON m.id = v.last_message_id"
                " WHERE v.id = $1::uuid AND v.org_id = $2::uuid", conv_id, org_id)
        if row is None:
            raise NotFound("conversation")
        return row

    async def messages(self, cmd: c.ListConversationMessages) -> c.ConversationMessagePage:
        await self._row(cmd.org_id, cmd.conversation_id)
        at, ident = page_after(cmd.cursor, key=str)
        rows = await self.pool.fetch(
            f"SELECT {_MSG} FROM conversation_messages m WHERE m.conversation_id = $1::uuid AND m.org_id = $2::uuid"
            " AND ($3::timestamptz IS NULL OR (m.at, m.id) < ($3, $4::uuid))"
            " ORDER BY m.at DESC, m.id DESC LIMIT $5",
            cmd.conversation_id, cmd.org_id, at, ident, cmd.limit + 1)
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        if cmd.cursor is None:  # the newest page was read
            await self.pool.execute("UPDATE conversations SET unread_count = 0 WHERE id = $1::uuid AND org_id = $2::uuid"
                                    " AND unread_count > 0", cmd.conversation_id, cmd.org_id)
        nxt = time_cursor(rows[-1]["at"], rows[-1]["id"]) if more else None
        return c.ConversationMessagePage(data=[_message(r) for r in rows], next_cursor=nxt)


_MSG = ("m.id::text AS id, m.direction, m.from_number, m.to_number, m.body, m.status, m.at")
_CONV = ("v.id::text AS id, v.phone_number, v.contact_number, v.last_at, v.message_count, v.unread_count,"
         " v.created_at, m.id::text AS m_id, m.direction AS m_direction, m.from_number AS m_from,"
         " m.to_number AS m_to, m.body AS m_body, m.status AS m_status, m.at AS m_at")


def _message(r: asyncpg.Record, p: str = "") -> c.ConversationMessageView:
    body = r[f"{p}body"]
    inbound = r[f"{p}direction"] == "inbound"
    return c.ConversationMessageView(id=r[f"{p}id"], direction=r[f"{p}direction"], from_=r[f"{p}from" if p else "from_number"],
                                     to=r[f"{p}to" if p else "to_number"], text=body, at=rfc3339(r[f"{p}at"]),
                                     status=r[f"{p}status"], otp=find_otp(body) if inbound else None)


def _conversation(r: asyncpg.Record) -> c.ConversationView:
    last = _message(r, "m_") if r["m_id"] is not None else None
    return c.ConversationView(id=r["id"], phone_number=r["phone_number"], contact_number=r["contact_number"],
                              last_message=last, unread_count=r["unread_count"], message_count=r["message_count"],
                              updated_at=rfc3339(r["last_at"]), created_at=rfc3339(r["created_at"]))


