"""The commands the Message aggregate decides on (model.decide): pure values, each naming what happened
or is asked of one message. (The wire commands of the outbound service are proto/commands/outbound.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from proto.base import Event
from proto.commands.compliance import SendDecision
from proto.events.outbound import MessageFacts
from services.outbound.rules import Receipt


# -- commands --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Accept:
    """Take a new message: the gate allowed it, its credit is held; ``due`` is when it may go (None: now)."""

    facts: MessageFacts
    now: datetime
    due: datetime | None = None
    reason: str | None = None
    deferred_by: str | None = None


@dataclass(frozen=True)
class Promote:
    """A scheduled message's time came."""

    now: datetime


@dataclass(frozen=True)
class Dispatch:
    """The final check allowed it: hand it to the carrier (``attempt`` counts submissions)."""

    attempt: int
    claim: str | None
    decision_id: str = ""


@dataclass(frozen=True)
class Refused:
    """The final check did not allow it (defer or deny)."""

    decision: SendDecision
    now: datetime
    claim: str | None


@dataclass(frozen=True)
class RetrySubmission:
    """A transient failure (no decision, a carrier timeout): try again at ``retry_at``."""

    attempt: int
    retry_at: datetime
    claim: str | None
    error: str | None = None
    """None: nothing happened to the message (no final check answered), so nothing is recorded."""


@dataclass(frozen=True)
class RecordSent:
    """The carrier took it under ``carrier_message_id`` (or a held receipt proves it did)."""

    carrier_message_id: str


@dataclass(frozen=True)
class CarrierRefused:
    """The carrier refused it for good (CARRIER_REJECTED), or it cannot be known (SUBMISSION_UNCONFIRMED)."""

    code: str
    reason: str
    claim: str | None


@dataclass(frozen=True)
class ApplyReceipt:
    receipt: Receipt


@dataclass(frozen=True)
class Expire:
    """Its validity ran out before it reached the carrier (``claim``: the dispatcher's own, if it asks)."""

    now: datetime
    claim: str | None = None


@dataclass(frozen=True)
class ReceiptTimeout:
    """No final receipt ``timeout_s`` after it was sent."""

    now: datetime
    timeout_s: float


@dataclass(frozen=True)
class Cancel:
    """The organization canceled it (CANCELED_BY_USER), its contact opted out or its number was released."""

    code: str
    reason: str
    cause: Event | None = None
    opt_out_event_id: str = ""


@dataclass(frozen=True)
class QuietHoursOff:
    """The organization turned quiet hours off."""

    now: datetime
    cause: Event


Command = (Accept | Promote | Dispatch | Refused | RetrySubmission | RecordSent | CarrierRefused | ApplyReceipt
           | Expire | ReceiptTimeout | Cancel | QuietHoursOff)
