"""The Message aggregate, pure: its state, ``decide(state, command) -> Decision`` (the events a command
leads to, or why it leads to none) and ``evolve(state, event) -> state``. A message's status is chosen
here and nowhere else: the accept path, the dispatcher, carrier receipts, expiry, the receipt timeout
and every cancellation ask ``decide``, and the ``messages`` table is ``evolve`` written down (see
projection.py). No I/O; ``now`` is an argument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, assert_never

import msgspec
from msgspec.structs import replace

from proto.base import Event, rfc3339, utcnow
from proto.events.outbound import (
    MessageCanceled,
    MessageDelivered,
    MessageFacts,
    MessageFailed,
    MessageQueued,
    MessageScheduled,
    MessageSending,
    MessageSent,
    MessageSubmissionRetried,
    MessageUndelivered,
)
from services.outbound import commands as cm
from services.outbound.rules import (
    Receipt,
    deferred_by,
    due_without_quiet_hours,
    released_when_quiet_hours_off,
)

# -- statuses --------------------------------------------------------------------------------------
Status = Literal["scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "canceled"]
STATUSES: tuple[str, ...] = ("scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed",
                             "canceled")
TERMINAL = frozenset({"delivered", "undelivered", "failed", "canceled"})
PENDING = frozenset({"scheduled", "queued"})
"""Not yet handed to the carrier: an opt-out, a released number or the organization cancels these."""
CLAIMABLE = frozenset({"queued", "sending"})
"""What the dispatcher claims: due to be (re)submitted."""

_TRANSITIONS: dict[str, frozenset[str]] = {
    # (scheduled -> sending only when a held receipt proves the carrier already has it)
    "scheduled": frozenset({"queued", "scheduled", "sending", "canceled", "failed"}),
    "queued": frozenset({"sending", "scheduled", "canceled", "failed"}),
    # a resubmission is sending again; the final check before it may defer or cancel
    "sending": frozenset({"sending", "sent", "scheduled", "canceled", "failed"}),
    "sent": frozenset({"delivered", "undelivered"}),
}


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def can_transition(current: str | None, new: str) -> bool:
    """A new message starts queued or scheduled; a terminal status never reopens."""
    if current is None:
        return new in PENDING
    return new in _TRANSITIONS.get(current, frozenset())


CANCELED_BY_USER = "CANCELED_BY_USER"
NUMBER_RELEASED = "NUMBER_RELEASED"
RECIPIENT_OPTED_OUT = "RECIPIENT_OPTED_OUT"


# -- carrier receipts ------------------------------------------------------------------------------
_RECEIPTS: dict[str, Literal["delivered", "undelivered"]] = {
    "DELIVRD": "delivered", "UNDELIV": "undelivered", "REJECTD": "undelivered", "EXPIRED": "undelivered",
    "DELETED": "undelivered", "UNKNOWN": "undelivered",
}


def receipt_outcome(receipt_status: str) -> Literal["delivered", "undelivered"] | None:
    """SMPP receipt states: DELIVRD → delivered, UNDELIV/REJECTD/EXPIRED/DELETED/UNKNOWN → undelivered
    (UNKNOWN is final in SMPP 3.4: the SMSC will say no more); ACCEPTD, ENROUTE (and anything else) are
    not final and change nothing."""
    return _RECEIPTS.get(receipt_status.strip().upper())


# -- state -----------------------------------------------------------------------------------------
class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A message as its events left it (one row of ``messages``). ``claimed_until``/``claim_id`` (the
    dispatcher's lease) and ``held`` (a final receipt that came before MessageSent) are bookkeeping no
    event records: every event but MessageSending ends the lease, a final outcome drops ``held``."""

    id: str
    org_id: str
    version: int = 0
    status: str = ""
    """Empty until the first event."""
    status_reason: str | None = None
    error_code: str | None = None
    from_number: str = ""
    to_number: str = ""
    body: str = ""
    category: str = "conversational"
    kind: str = "standard"
    segments: int = 1
    encoding: str = "GSM-7"
    price_micros: int = 0
    phone_number_id: str = ""
    campaign_id: str = ""
    throughput_mpm: int = 0
    status_callback_url: str | None = None
    send_at: datetime | None = None
    validity_seconds: int = 36000
    expires_at: datetime | None = None
    next_attempt_at: datetime | None = None
    claimed_until: datetime | None = None
    claim_id: str | None = None
    attempts: int = 0
    carrier_message_id: str | None = None
    held: Receipt | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deferred_by: str | None = None
    """The checks that deferred it (e.g. quiet_hours), comma separated, while it is scheduled for them."""


def _facts(f: MessageFacts, at: datetime) -> dict[str, Any]:
    return {"from_number": f.from_, "to_number": f.to, "body": f.text, "category": f.category, "kind": f.kind,
            "segments": f.segments, "encoding": f.encoding, "price_micros": f.price_micros,
            "phone_number_id": f.phone_number_id, "campaign_id": f.campaign_id, "throughput_mpm": f.throughput_mpm,
            "status_callback_url": f.status_callback_url, "send_at": f.send_at,
            "validity_seconds": f.validity_seconds, "expires_at": f.expires_at, "next_attempt_at": at,
            "created_at": at}


def evolve(s: Message, ev: Event) -> Message:
    """The message after ``ev``: the one place a status is set (one copy of the state per event)."""
    common: dict[str, Any] = {"version": s.version + 1, "updated_at": ev.occurred_at}
    if not isinstance(ev, MessageSending):
        common.update(claimed_until=None, claim_id=None)
    return replace(s, **common, **_changes(s, ev))


def _changes(s: Message, ev: Event) -> dict[str, Any]:
    match ev:
        case MessageQueued(facts=MessageFacts() as f):
            return {**_facts(f, ev.occurred_at), "status": "queued", "status_reason": ev.reason or None}
        case MessageQueued():  # its time came (or what held it went): validity counts from when it may go
            due = min(s.next_attempt_at or ev.occurred_at, ev.occurred_at)
            return {"status": "queued", "status_reason": ev.reason or None, "next_attempt_at": due,
                    "expires_at": due + timedelta(seconds=s.validity_seconds), "deferred_by": None}
        case MessageScheduled():
            until = ev.send_at
            out = _facts(ev.facts, ev.occurred_at) if ev.facts is not None else {
                "expires_at": until + timedelta(seconds=s.validity_seconds)}  # (accepted: its facts say)
            return {**out, "status": "scheduled", "status_reason": ev.reason or None, "next_attempt_at": until,
                    "deferred_by": ev.deferred_by or None}
        case MessageSending():
            why = ev.reason or (f"attempt {ev.attempt}" if ev.attempt > 1 else None)
            return {"status": "sending", "status_reason": why, "attempts": ev.attempt}
        case MessageSubmissionRetried():  # still sending: no status change
            return {"next_attempt_at": ev.retry_at, "attempts": ev.attempt}
        case MessageSent():
            return {"status": "sent", "status_reason": None, "carrier_message_id": ev.carrier_message_id}
        case MessageDelivered():
            return {"status": "delivered", "status_reason": None, "held": None}
        case MessageUndelivered():
            return {"status": "undelivered", "status_reason": ev.reason or None, "held": None,
                    "error_code": ev.error_code or ev.receipt_status}
        case MessageFailed():
            return {"status": "failed", "status_reason": ev.reason, "error_code": ev.error_code}
        case MessageCanceled():
            return {"status": "canceled", "status_reason": ev.reason, "error_code": ev.code}
        case _:
            return {}


def fold(s: Message, events: Sequence[Event]) -> Message:
    for ev in events:
        s = evolve(s, ev)
    return s


def changes_status(ev: Event) -> bool:
    """Whether ``ev`` is a status change (a timeline entry, a status callback): all but a retry note."""
    return not isinstance(ev, MessageSubmissionRetried)


@dataclass(frozen=True)
class Decision:
    """What a command comes to: its events (none when it changes nothing), ``outcome`` naming why, and a
    ``reason`` a person can read."""

    events: tuple[Event, ...] = ()
    outcome: str = "applied"
    reason: str = ""

    @property
    def changes_nothing(self) -> bool:
        return not self.events


def _none(outcome: str, reason: str) -> Decision:
    return Decision((), outcome, reason)


def _not_ours(s: Message, claim: str | None) -> Decision | None:
    """The dispatcher acts on a message only while its claim holds it, and only while it is due."""
    if s.claim_id != claim:
        return _none("not_claimed", "another claim holds the message, or none does")
    if s.status not in CLAIMABLE:
        return _none("moved_on", f"the message is {s.status}")
    return None


def _accept(s: Message, c: cm.Accept) -> Decision:
    if s.status:
        return _none("exists", "the message id is taken")
    if c.due is None:
        return Decision((MessageQueued(org_id=s.org_id, message_id=s.id, facts=c.facts, occurred_at=c.now),))
    return Decision((MessageScheduled(org_id=s.org_id, message_id=s.id, send_at=c.due, reason=c.reason or "",
                                      facts=c.facts, deferred_by=c.deferred_by or "", occurred_at=c.now),))


def _promote(s: Message, c: cm.Promote) -> Decision:
    if s.status != "scheduled" or s.next_attempt_at is None or s.next_attempt_at > c.now:
        return _none("not_due", "not a scheduled message whose time came")
    return Decision((MessageQueued(org_id=s.org_id, message_id=s.id, reason="send time reached", occurred_at=c.now),))


def _refused(s: Message, c: cm.Refused) -> Decision:
    d = c.decision
    if d.decision == "defer":
        until = d.defer_until or c.now + timedelta(minutes=1)
        reason = d.reason or f"deferred until {rfc3339(until)}"
        return Decision((MessageScheduled(org_id=s.org_id, message_id=s.id, send_at=until, reason=reason,
                                          deferred_by=deferred_by(d.checks) or "", occurred_at=c.now),), "deferred")
    if d.code == RECIPIENT_OPTED_OUT:
        reason = d.reason or "the recipient opted out"
        return Decision((MessageCanceled(org_id=s.org_id, message_id=s.id, reason=reason, reservation_id=s.id,
                                         code=RECIPIENT_OPTED_OUT, occurred_at=c.now),), "canceled")
    return _failed(s, d.code or "SEND_DENIED", d.reason or "refused by the final check", c.now)


def _failed(s: Message, code: str, reason: str, now: datetime | None = None) -> Decision:
    """Failed before the carrier had it: refunded (the reservation is the message id)."""
    ev = MessageFailed(org_id=s.org_id, message_id=s.id, reason=reason, error_code=code, reached_carrier=False,
                       reservation_id=s.id, occurred_at=now or utcnow())
    return Decision((ev,), "failed", reason)


def _retry(s: Message, c: cm.RetrySubmission) -> Decision:
    if c.error is None or s.status != "sending":  # nothing happened to the message: postponed, no event
        return _none("postponed", f"tried again at {rfc3339(c.retry_at)}")
    return Decision((MessageSubmissionRetried(org_id=s.org_id, message_id=s.id, attempt=c.attempt,
                                              error=c.error[:500], retry_at=c.retry_at),), "retrying")


def _sent(s: Message, c: cm.RecordSent) -> Decision:
    """MessageSent (credit captured); a final receipt that came first is applied right after."""
    events: list[Event] = []
    if s.status in PENDING and s.held is not None:  # a held receipt proves an earlier attempt reached it
        events.append(MessageSending(org_id=s.org_id, message_id=s.id, attempt=max(1, s.attempts),
                                     reason="the carrier's receipt shows it has it"))
    elif s.status != "sending":
        return _none("moved_on", f"the message is {s.status}")
    events.append(MessageSent(org_id=s.org_id, message_id=s.id, carrier_message_id=c.carrier_message_id,
                              reservation_id=s.id))
    if s.held is not None:
        events.extend(_receipt(fold(s, events), cm.ApplyReceipt(s.held)).events)
    return Decision(tuple(events), "sent")


def _receipt(s: Message, c: cm.ApplyReceipt) -> Decision:
    """Applied to a ``sent`` message only; held for one not yet sent (our MessageSent write is behind);
    a terminal message never reopens, so duplicates and late receipts change nothing."""
    r = c.receipt
    outcome = receipt_outcome(r.status)
    if outcome is None:
        return _none("not_final", f"receipt {r.status} is not final")
    if is_terminal(s.status):
        return _none("ignored_terminal", f"the message is already {s.status}")
    if s.status != "sent":
        if s.held is not None:
            return _none("duplicate_held", "a final receipt already waits for the message to be sent")
        return _none("held", "the message is not sent yet: the receipt waits for it")
    cid = r.carrier_message_id or s.carrier_message_id or ""
    if outcome == "delivered":
        return Decision((MessageDelivered(org_id=s.org_id, message_id=s.id, carrier_message_id=cid,
                                          receipt_status=r.status, delivered_at=r.occurred_at),), "applied")
    reason = f"carrier receipt {r.status}" + (f" ({r.error_code})" if r.error_code else "")
    return Decision((MessageUndelivered(org_id=s.org_id, message_id=s.id, carrier_message_id=cid,
                                        receipt_status=r.status, error_code=r.error_code or "", reason=reason),),
                    "applied")


def hold(s: Message, r: Receipt) -> Message:
    """The message with a final receipt waiting for it to be sent (decided ``held``)."""
    return replace(s, held=r)


def _expire(s: Message, c: cm.Expire) -> Decision:
    if s.status not in PENDING and s.status != "sending":
        return _none("moved_on", f"the message is {s.status}")
    if not expired(s, c.now):
        return _none("valid", "its validity has not run out")
    if s.claim_id != c.claim and s.claimed_until is not None and s.claimed_until > c.now:
        return _none("claimed", "a dispatcher holds it")
    if s.held is not None:  # the carrier had it after all: it was sent
        return _sent(s, cm.RecordSent(s.held.carrier_message_id))
    return _failed(s, "EXPIRED", f"expired: not handed to the carrier within {s.validity_seconds} s", c.now)


def _timeout(s: Message, c: cm.ReceiptTimeout) -> Decision:
    """Carriers stop reporting after their own validity period, and every message ends in one terminal
    status: undelivered (DELIVERY_UNCONFIRMED). The carrier had it, so its credit stays spent."""
    if s.status != "sent":
        return _none("moved_on", f"the message is {s.status}")
    if s.updated_at is not None and s.updated_at > c.now - timedelta(seconds=c.timeout_s):
        return _none("waiting", "its receipt may still come")
    reason = f"no delivery receipt from the carrier within {c.timeout_s:g} s"
    return Decision((MessageUndelivered(org_id=s.org_id, message_id=s.id, carrier_message_id=s.carrier_message_id
                                        or "", receipt_status="", error_code="DELIVERY_UNCONFIRMED", reason=reason,
                                        occurred_at=c.now),), "unconfirmed", reason)


def _cancel(s: Message, c: cm.Cancel) -> Decision:
    if s.status == "canceled":
        return _none("already_canceled", "the message is canceled")
    if s.status not in PENDING:
        return _none("not_cancelable",
                     f"the message is {s.status or 'unknown'}: only scheduled or queued messages can be canceled")
    if c.code == RECIPIENT_OPTED_OUT and s.kind == "opt_out_confirmation":
        return _none("exempt", "the opt-out confirmation itself still goes")
    cause = c.cause
    return Decision((MessageCanceled(
        org_id=s.org_id, message_id=s.id, reason=c.reason, reservation_id=s.id, code=c.code,
        opt_out_event_id=c.opt_out_event_id, causation_id=cause.event_id if cause else None,
        correlation_id=cause.correlation_id if cause else None),), "canceled", c.reason)


def _quiet_hours_off(s: Message, c: cm.QuietHoursOff) -> Decision:
    """A message scheduled by quiet hours alone goes now (or at its own send_at, if still ahead)."""
    if s.status != "scheduled" or not released_when_quiet_hours_off(s.deferred_by):
        return _none("not_held", "not held by quiet hours alone")
    due = due_without_quiet_hours(s.send_at, c.now)
    if s.next_attempt_at is not None and due >= s.next_attempt_at:
        return _none("not_sooner", "it would not go sooner")
    why, ev = "quiet hours turned off", c.cause
    if due <= c.now:
        return Decision((MessageQueued(org_id=s.org_id, message_id=s.id, reason=why, causation_id=ev.event_id,
                                       correlation_id=ev.correlation_id, occurred_at=c.now),), "queued")
    return Decision((MessageScheduled(org_id=s.org_id, message_id=s.id, send_at=due,
                                      reason=f"{why}; waiting for send_at", causation_id=ev.event_id,
                                      correlation_id=ev.correlation_id, occurred_at=c.now),), "scheduled")


def decide(s: Message, cmd: cm.Command) -> Decision:
    """The events ``cmd`` leads to from ``s`` (none, with the reason, when it changes nothing)."""
    match cmd:
        case cm.Accept():
            return _accept(s, cmd)
        case cm.Promote():
            return _promote(s, cmd)
        case cm.Dispatch():
            return _not_ours(s, cmd.claim) or Decision((MessageSending(
                org_id=s.org_id, message_id=s.id, attempt=cmd.attempt, decision_id=cmd.decision_id),), "sending")
        case cm.Refused():
            return _not_ours(s, cmd.claim) or _refused(s, cmd)
        case cm.RetrySubmission():
            return _none("not_claimed", "another claim holds it") if s.claim_id != cmd.claim else _retry(s, cmd)
        case cm.RecordSent():
            return _sent(s, cmd)
        case cm.CarrierRefused():
            if s.claim_id != cmd.claim or s.status != "sending":
                return _none("moved_on", f"the message is {s.status}")
            return _failed(s, cmd.code or "CARRIER_REJECTED", cmd.reason)
        case cm.ApplyReceipt():
            return _receipt(s, cmd)
        case cm.Expire():
            return _expire(s, cmd)
        case cm.ReceiptTimeout():
            return _timeout(s, cmd)
        case cm.Cancel():
            return _cancel(s, cmd)
        case cm.QuietHoursOff():
            return _quiet_hours_off(s, cmd)
        case _:
            assert_never(cmd)

def expired(s: Message, now: datetime) -> bool:
    return s.expires_at is not None and s.expires_at <= now
