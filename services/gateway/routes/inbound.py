"""Routes of the inbound feature: list, get and wait for inbound messages; their webhook deliveries.

The long poll (``wait``) holds no database connection: it subscribes (core NATS) to the organization's
InboundMessageReceived events *before* its first query, so nothing that commits in between is missed, asks
inbound once, and only asks again when a matching event arrives."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from nats.errors import TimeoutError as NatsTimeout

from libs.otp import find_otp
from proto.commands import inbound as c
from proto.events import decode_event
from proto.events.inbound import InboundMessageReceived
from proto.http.inbound import DeliveriesView, InboundListQuery, InboundMessageView
from services.gateway.api import Ctx, Reply, Route, on_resource


def _matches(data: bytes, cmd: c.ListInbound) -> bool:
    try:
        ev = decode_event(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return (isinstance(ev, InboundMessageReceived) and (cmd.to is None or ev.to == cmd.to)
            and (cmd.from_ is None or ev.from_ == cmd.from_) and (not cmd.otp or find_otp(ev.body) is not None))


async def _page(ctx: Ctx, cmd: c.ListInbound) -> c.InboundPage:
    page: c.InboundPage = await ctx.call(cmd)
    return page


async def _wait(ctx: Ctx, cmd: c.ListInbound, wait_s: int) -> c.InboundPage:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    subject = ctx.subjects.of(InboundMessageReceived, ctx.org_id)
    sub = await ctx.nc.subscribe(subject)
    try:
        await ctx.nc.flush(timeout=2)  # the server has our subscription before we look
        if cmd.after is None and cmd.cursor is not None:
            cmd = msgspec.structs.replace(cmd, after=cmd.cursor, cursor=None)
        if cmd.after is None and cmd.since is None:  # "from now on": start at the newest message
            head = (await _page(ctx, msgspec.structs.replace(cmd, limit=0))).head
            cmd = msgspec.structs.replace(cmd, after=head)
        page = await _page(ctx, cmd)
        while not page.data:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                msg = await sub.next_msg(timeout=remaining)
            except NatsTimeout:
                break
            if _matches(msg.data, cmd):
                page = await _page(ctx, cmd)
        return page
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def list_messages(ctx: Ctx) -> Reply:
    q: InboundListQuery = ctx.query
    # decode_query matches Python field names, so the renamed `from` is read here
    raw_from = ctx.request.query.get("from")
    cmd = c.ListInbound(org_id=ctx.org_id, limit=q.limit, cursor=q.cursor,
                        to=ctx.phone(q.to, "to") if q.to else None,
                        from_=ctx.sender(raw_from, "from") if raw_from else None, since=q.since, after=q.after,
                        otp=q.otp)
    page = await (_wait(ctx, cmd, q.wait) if q.wait > 0 else _page(ctx, cmd))
    return Reply.page(page)


ROUTES = [
    Route("GET", "/v1/inbound-messages", list_messages, "List inbound messages, or wait for the next one", "inbound",
          query=InboundListQuery, response=list[InboundMessageView], paginated=True,
          description="Newest first, filtered by `to`, `from` (E.164) and `since` (RFC 3339), paged by `cursor`. "
                      "With `after` (a message id or cursor) only newer messages, oldest first: the last "
                      "item's id is the next `after`. With `wait` (1-60 s) it is a long poll: it answers as soon "
                      "as a matching message is there — newer than `after`; without `after`, matching `since`; "
                      "with neither, arriving from now on — or with an empty page when the wait ends. Each "
                      "message carries `otp`, the one-time code found in its body (or null); with `otp=true` only "
                      "such messages are listed, so `?otp=true&wait=60&to=<your number>` waits for the next code "
                      "(add `from` for a given sender)."),
    Route("GET", "/v1/inbound-messages/{id}", on_resource(c.GetInbound, "message_id"), "Get an inbound message",
          "inbound", response=InboundMessageView),
    Route("GET", "/v1/inbound-messages/{id}/deliveries", on_resource(c.GetDeliveries, "message_id"),
          "Webhook deliveries of an inbound message: state and every attempt", "inbound", response=DeliveriesView),
    Route("POST", "/v1/inbound-messages/{id}/redeliver", on_resource(c.Redeliver, "message_id", status=202),
          "POST an inbound message to the number's inbound_url again", "inbound", response=DeliveriesView,
          status=202, errors=("NO_INBOUND_URL",)),
]
