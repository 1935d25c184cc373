"""Routes: conversations (one per your number x contact) and their messages in both directions.

The read model is inbound's; each conversation's consent state is compliance's, asked at read time for
the page's contacts (at most a page's worth of requests, side by side)."""

from __future__ import annotations

import asyncio

from libs.phone import is_sender_id
from proto.base import CommandError
from proto.commands import compliance as cc
from proto.commands import inbound as c
from proto.http.conversations import ConversationListQuery, PageOnlyQuery
from services.gateway.api import Ctx, Reply, Route

TAG = "conversations"


async def _with_consent(ctx: Ctx, convs: list[c.ConversationView]) -> list[c.ConversationView]:
    contacts = sorted({v.contact_number for v in convs})

    async def state(contact: str) -> str:
        if is_sender_id(contact):  # a short code or sender id texted us: no consent to have
            return "none"
        try:
            view = await ctx.call(cc.GetConsent(org_id=ctx.org_id,
                                                 contact_number=contact))
        except CommandError as exc:
            if exc.status == 404:
                return "none"
            raise
        return str(view.status)

    states = dict(zip(contacts, await asyncio.gather(*(state(n) for n in contacts)), strict=True))
    for v in convs:
        v.consent_status = states[v.contact_number]
    return convs


async def list_conversations(ctx: Ctx) -> Reply:
    q: ConversationListQuery = ctx.query
    page = await ctx.call(c.ListConversations(
        org_id=ctx.org_id, limit=q.limit, cursor=q.cursor,
        phone_number=ctx.phone(q.phone_number, "phone_number") if q.phone_number else None,
        contact_number=ctx.sender(q.contact_number, "contact_number") if q.contact_number else None))
    return Reply.page(page, await _with_consent(ctx, page.data))


async def get_conversation(ctx: Ctx) -> Reply:
    conv = await ctx.call(c.GetConversation(
        org_id=ctx.org_id, conversation_id=ctx.path["id"]))
    return Reply((await _with_consent(ctx, [conv]))[0])


async def conversation_messages(ctx: Ctx) -> Reply:
    q: PageOnlyQuery = ctx.query
    page = await ctx.call(c.ListConversationMessages(
        org_id=ctx.org_id, conversation_id=ctx.path["id"], limit=q.limit, cursor=q.cursor))
    return Reply.page(page)


ROUTES = [
    Route("GET", "/v1/conversations", list_conversations, "List conversations, most recent first", TAG,
          query=ConversationListQuery, response=list[c.ConversationView], paginated=True,
          description="One conversation per (your number, contact), made by the first message either way: the "
                      "last message, unread_count (inbound messages since it was last read or answered), "
                      "message_count and the contact's consent_status. Filters: phone_number, contact_number."),
    Route("GET", "/v1/conversations/{id}", get_conversation, "Get a conversation", TAG,
          response=c.ConversationView),
    Route("GET", "/v1/conversations/{id}/messages", conversation_messages,
          "A conversation's messages in both directions, newest first", TAG, query=PageOnlyQuery,
          response=list[c.ConversationMessageView], paginated=True,
          description="Time-ordered (newest first, older pages by cursor): direction inbound | outbound, from, "
                      "to, text, at, an outbound message's latest status, an inbound one's otp. Reading the first "
                      "page marks the conversation read (unread_count 0)."),
]
