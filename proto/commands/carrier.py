"""Commands of the carrier domain (am.cmd.carrier.<command>): outbound submits through it, ops ask for
the state of its upstream connections (``amctl carrier status``)."""

from __future__ import annotations

import msgspec

from proto.base import Command, ErrorBody, Time


class SubmitMessage(Command["Submitted"], frozen=True, kw_only=True):
    """Hand a message to the upstream carrier. Idempotent on ``message_id``: asked again, it answers the
    first submission's outcome and never submits twice. Errors: ``CARRIER_REJECTED`` (422, the carrier
    refused it), ``CARRIER_UNAVAILABLE`` (503, nothing was sent: try again), ``SUBMISSION_UNCONFIRMED``
    (409, the connection was lost after the message left and before the carrier acknowledged it; it is
    not sent again, see the README's "never twice")."""

    org_id: str
    message_id: str
    """Our reference: the outbound message id."""
    from_: str = msgspec.field(name="from")
    to: str
    text: str


class Submitted(msgspec.Struct, frozen=True, kw_only=True):
    carrier_message_id: str
    """The carrier's id of the message (of its first part when it went in several)."""
    parts: int = 1
    adapter: str = ""


class SubmitMessages(Command["Submissions"], frozen=True, kw_only=True):
    """Many ``submit_message`` commands in one request (outbound's dispatcher hands over together the
    messages that became ready together): each submitted, and answered, as it would be alone — idempotent on
    its ``message_id``, its own outcome or error."""

    messages: list[SubmitMessage]


class SubmissionResult(msgspec.Struct, frozen=True, kw_only=True):
    """One answer of ``submit_messages``: the submission, or the error ``submit_message`` would raise."""

    submitted: Submitted | None = None
    error: ErrorBody | None = None


class Submissions(msgspec.Struct, frozen=True, kw_only=True):
    results: list[SubmissionResult]
    """In the order of the request's ``messages``."""


class GetCarrierStatus(Command["CarrierStatus"], frozen=True, kw_only=True):
    """The carrier service's upstream connections, as one replica sees them."""

    NAME = "get_status"


class BindView(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    mode: str
    """trx | tx | rx (SMPP), http"""
    state: str
    """down | connecting | bound | refused (credentials refused: not retried quickly)"""
    outstanding: int = 0
    window: int = 0
    tps: float = 0.0
    error: str = ""
    bound_since: Time | None = None


class CarrierStatus(msgspec.Struct, frozen=True, kw_only=True):
    adapter: str
    """smpp | http"""
    upstream: str
    """host:port (never the credentials)"""
    ready: bool
    binds: list[BindView] = []
    submissions: dict[str, int] = {}
    """Submissions by state in the carrier service's store."""
    held_receipts: int = 0
    """Receipts waiting for their submission's record."""


__all__ = ["BindView", "CarrierStatus", "GetCarrierStatus", "SubmissionResult", "Submissions", "SubmitMessage",
           "SubmitMessages", "Submitted"]
