"""Commands of the inbound domain (am.cmd.inbound.<command>); the gateway's inbound routes call them."""

from __future__ import annotations

import msgspec

from proto.base import Command
from proto.http.inbound import DeliveriesView, InboundMessageView


class ListInbound(Command, frozen=True, kw_only=True):
    """A page of an organization's inbound messages. Without ``after``: newest first, older pages by
    ``cursor``. With ``after`` (a message id or a cursor): only newer messages, oldest first."""

    org_id: str
    limit: int = 20
    """0 answers no rows, only ``head`` (a long poll's starting point)."""
    cursor: str | None = None
    to: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    since: str | None = None
    """RFC 3339; already validated by the caller."""
    after: str | None = None
    otp: bool = False
    """Only messages carrying a one-time code."""


class InboundPage(msgspec.Struct, kw_only=True):
    data: list[InboundMessageView]
    next_cursor: str | None = None
    head: str
    """A cursor for the organization's newest message at the time of the query: ``after=head`` means
    "anything that arrives from now on"."""


class GetInbound(Command, frozen=True, kw_only=True):
    org_id: str
    message_id: str


class GetDeliveries(Command, frozen=True, kw_only=True):
    org_id: str
    message_id: str


class Redeliver(Command, frozen=True, kw_only=True):
    """POST the message to the number's current inbound_url again; the retry schedule restarts."""

    org_id: str
    message_id: str


__all__ = ["DeliveriesView", "GetDeliveries", "GetInbound", "InboundMessageView", "InboundPage", "ListInbound",
           "Redeliver"]
