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

_New = tuple[str, str, str, str, str, str, str, datetime, bool]
"""A new message: org, direction, number, contact, from, to, text, at, answers."""

_STATUS = {MessageSent: "sent", MessageDelivered: "delivered", MessageUndelivered: "undelivered",
           MessageFailed: "failed", MessageCanceled: "canceled"}


def conversation_id(org_id: str, phone_number: str, contact_number: str) -> str:
    """Stable: both producers' events land on the same conversation without asking each other."""
    return str(uuid.uuid5(_NS, f"{org_id}|{phone_number}|{contact_number}"))


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
        """A batch in one transaction: its new messages inserted together, each conversation touched
        updated once, each message's last status in the batch applied (events are taken in stream
        order, so the last one wins). The same effects as the one-by-one handlers."""
        async with self.store.transaction() as conn:
            fresh = {r["event_id"] for r in await conn.fetch(
                "INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])"
                " ON CONFLICT DO NOTHING RETURNING event_id::text AS event_id", consumer,
                [ev.event_id for ev in events])}
            new: dict[str, _New] = {}
            final: dict[str, tuple[str, str]] = {}
            for ev in events:
                if ev.event_id not in fresh:
                    continue
                match ev:
                    case MessageQueued(facts=facts) | MessageScheduled(facts=facts):
                        status = "queued" if isinstance(ev, MessageQueued) else "scheduled"
                        if facts is not None and ev.message_id not in new:
                            new[ev.message_id] = (ev.org_id, "outbound", facts.from_, facts.to, facts.from_, facts.to,
                                                  facts.text, ev.occurred_at, facts.kind in ANSWERS)
                        final[ev.message_id] = (ev.org_id, status)
                    case InboundMessageReceived():
                        new[ev.message_id] = (ev.org_id, "inbound", ev.to, ev.from_, ev.from_, ev.to, ev.body,
                                              ev.received_at, False)
                    case _ if type(ev) in _STATUS:
                        final[ev.message_id] = (ev.org_id, _STATUS[type(ev)])  # type: ignore[attr-defined]
            if new:
                await self._insert(conn, new, final)
            if final:
                ids = sorted(final)
                await conn.execute(
                    "UPDATE conversation_messages m SET status = u.status FROM unnest($1::uuid[], $2::uuid[],"
                    " $3::text[]) AS u(id, org_id, status) WHERE m.id = u.id AND m.org_id = u.org_id"
                    " AND m.status IS DISTINCT FROM u.status",
                    ids, [final[i][0] for i in ids], [final[i][1] for i in ids])
        return {ev.event_id for ev in events}

    async def _insert(self, conn: asyncpg.Connection, new: dict[str, _New], final: dict[str, tuple[str, str]]) -> None:
        ids = list(new)
        vals = [new[i] for i in ids]
        convs = [conversation_id(v[0], v[2], v[3]) for v in vals]
        rows = await conn.fetch(
            "INSERT INTO conversation_messages (id, conversation_id, org_id, direction, from_number, to_number, body,"
            " status, at) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],"
            " $6::text[], $7::text[], $8::text[], $9::timestamptz[])"
            " ON CONFLICT (id) DO NOTHING RETURNING id::text AS id",
            ids, convs, [v[0] for v in vals], [v[1] for v in vals], [v[4] for v in vals], [v[5] for v in vals],
            [v[6] for v in vals], [final.get(i, ("", None))[1] if v[1] == "outbound" else None
                                   for i, v in zip(ids, vals, strict=True)], [v[7] for v in vals])
        inserted = {r["id"] for r in rows}
        agg: dict[str, list[object]] = {}
        for i, v, conv in zip(ids, vals, convs, strict=True):
            if i not in inserted:
                continue
            a = agg.get(conv)
            if a is None:
                a = agg[conv] = [v[0], v[2], v[3], i, v[7], 0, 0, False]
            a[5] = int(str(a[5])) + 1
            if v[1] == "inbound":
                a[6] = int(str(a[6])) + 1
            elif v[8]:  # answered: unread counts again from here
                a[6], a[7] = 0, True
            if v[7] >= a[4]:  # type: ignore[operator]
                a[3], a[4] = i, v[7]
        if not agg:
            return
        keys = sorted(agg)
        await conn.execute(
            "INSERT INTO conversations AS v (id, org_id, phone_number, contact_number, last_message_id, last_at,"
            " message_count, unread_count, created_at) SELECT u.id, u.org_id, u.num, u.contact, u.last_id, u.last_at,"
            " u.n, u.unread, u.last_at FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[],"
            " $6::timestamptz[], $7::int[], $8::int[]) AS u(id, org_id, num, contact, last_id, last_at, n, unread)"
            " ON CONFLICT (org_id, phone_number, contact_number) DO UPDATE SET"
            " message_count = v.message_count + EXCLUDED.message_count,"
            " unread_count = CASE WHEN $9::uuid[] @> ARRAY[v.id] THEN EXCLUDED.unread_count"
            "  ELSE v.unread_count + EXCLUDED.unread_count END,"
            " last_message_id = CASE WHEN EXCLUDED.last_at >= v.last_at THEN EXCLUDED.last_message_id"
            "  ELSE v.last_message_id END,"
            " last_at = greatest(v.last_at, EXCLUDED.last_at)",
            keys, [agg[k][0] for k in keys], [agg[k][1] for k in keys], [agg[k][2] for k in keys],
            [agg[k][3] for k in keys], [agg[k][4] for k in keys], [agg[k][5] for k in keys],
            [agg[k][6] for k in keys], [k for k in keys if agg[k][7]])

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


