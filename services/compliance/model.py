"""Pure rules of compliance: the contact's consent state (evolve), the send gate (decide), what an
inbound keyword leads to (``keyword_effects``, re-exported here); input checks and the texts we answer
with are in ``rules``. No I/O; ``now`` is an argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec
from msgspec.structs import replace

from proto.base import CommandError, Event, rfc3339
from proto.commands.compliance import Check, SendDecision
from proto.events.compliance import (
    ConsentGranted,
    ConsentRevoked,
    OptInRecorded,
    OptOutRecorded,
    ReplyIssued,
)
from services.compliance import frequency, quiet_hours
from services.compliance.frequency import Cap as Cap
from services.compliance.frequency import Sent as Sent
from services.compliance.keyword_effects import Inbound as Inbound
from services.compliance.keyword_effects import PendingDoubleOptIn as PendingDoubleOptIn
from services.compliance.keyword_effects import message_id_for as message_id_for
from services.compliance.keyword_effects import on_inbound as on_inbound
from services.compliance.rules import Texts as Texts
from services.compliance.rules import help_text as help_text
from services.compliance.rules import opt_in_text as opt_in_text
from services.compliance.rules import opt_out_text as opt_out_text

EXEMPT_KINDS = frozenset({"opt_in_request", "opt_out_confirmation", "help_reply", "keyword_reply"})
"""Kinds compliance itself sends: exempt from consent and frequency caps; from opt-out only the one
confirmation of an opt-out and the answer to a HELP the contact texted."""
QUIET_EXEMPT_KINDS = EXEMPT_KINDS - {"opt_in_request"}
"""Replies the contact's own text asked for go out at once; a double opt-in confirmation is our initiative,
so it waits for the recipient's allowed hours (or is refused, under a ``reject`` policy)."""

class Policy(msgspec.Struct, frozen=True):
    quiet_hours_enabled: bool = True
    quiet_hours_action: Literal["defer", "reject"] = "defer"
    conversation_window_enabled: bool = False
    conversation_window_hours: int = 24
    double_opt_in_expiry_hours: int = 24
    help_reply: str | None = None
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    frequency_caps: tuple[Cap, ...] = ()
    """The organization's own caps (the state caps always apply besides)."""
    frequency_cap_action: Literal["reject", "defer"] = "reject"
    """Over a cap: refuse (453 FREQUENCY_CAP), or schedule to when it is allowed. A send may ask for either."""


class ContactState(msgspec.Struct, frozen=True):
    version: int = 0
    consent_id: str | None = None
    consent_method: str | None = None
    consent_granted_at: datetime | None = None
    opted_out: bool = False
    opted_out_at: datetime | None = None
    opt_out_source: str | None = None
    opt_out_rule: str | None = None
    opt_out_confirmation_id: str | None = None
    """The one message an opted-out contact may still get: the confirmation of its opt-out."""
    last_inbound_at: datetime | None = None
    said_at: datetime | None = None
    """When the contact's text that last changed its state (STOP, START, the YES to a double opt-in)
    reached the carrier, or an opt-out the organization recorded was. A keyword text received before it
    changes nothing: texts can be processed out of the order they came (a retry, another replica), and the
    contact's latest word stands. (A consent the organization records does not count: a STOP the contact
    sent before it still opts out — when in doubt, the opt-out wins.)"""

    @property
    def status(self) -> str:
        return "opted_out" if self.opted_out else "granted" if self.consent_id else "none"


def evolve(s: ContactState, ev: Event) -> ContactState:
    match ev:
        case ConsentGranted():
            return replace(s, consent_id=ev.consent_id, consent_method=ev.method, consent_granted_at=ev.occurred_at,
                           opted_out=False, opt_out_source=None, opt_out_rule=None, opted_out_at=None,
                           said_at=_latest(s.said_at, ev.evidence.reply_received_at))
        case ConsentRevoked():
            return replace(s, consent_id=None, consent_method=None, consent_granted_at=None)
        case OptOutRecorded():
            return replace(s, opted_out=True, opted_out_at=ev.occurred_at, opt_out_source=ev.source,
                           opt_out_rule=ev.matched_rule or None, opt_out_confirmation_id=None,
                           # (an opt-out the organization records, no text: the contact said it then)
                           said_at=_latest(s.said_at, ev.received_at or ev.occurred_at))
        case OptInRecorded():
            return replace(s, opted_out=False, opted_out_at=None, opt_out_source=None, opt_out_rule=None,
                           said_at=_latest(s.said_at, ev.received_at))
        case ReplyIssued() if ev.kind == "opt_out_confirmation":
            return replace(s, opt_out_confirmation_id=ev.message_id)
        case _:
            return s


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def fold(s: ContactState, events: list[Event]) -> ContactState:
    for ev in events:
        s = evolve(s, ev)
    return replace(s, version=s.version + len(events))


# -- the gate -------------------------------------------------------------------------------------------

class SendFacts(msgspec.Struct, frozen=True):
    org_id: str
    message_id: str
    from_: str
    to: str
    kind: str
    category: str
    issued_kind: str | None = None
    """The kind under which compliance itself issued this message id (None: not ours)."""
    send_at: datetime | None = None
    """The send's own later time (``send_at``), if any."""
    on_frequency_cap: Literal["reject", "defer"] | None = None
    """What the send asked for when over a frequency cap (None: the organization's policy)."""

    @property
    def effective_kind(self) -> str:
        """A special kind counts only for a message compliance issued: no caller can claim an exemption."""
        return self.kind if self.kind == "standard" or self.kind == self.issued_kind else "standard"


class Sender(msgspec.Struct, frozen=True):
    sending_enabled: bool
    reason_code: str | None = None
    reason: str = ""


class Outcome(msgspec.Struct, frozen=True):
    check: Check
    code: str | None = None
    status: int = 200
    reason: str = ""
    defer_until: datetime | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


def check_opt_out(s: ContactState, f: SendFacts) -> Outcome:
    if not s.opted_out:
        return Outcome(Check(name="opt_out", result="pass", detail="the contact has not opted out"))
    if f.effective_kind == "opt_out_confirmation" and f.message_id == s.opt_out_confirmation_id:
        return Outcome(Check(name="opt_out", result="pass", detail="the one confirmation of the contact's opt-out"))
    if f.effective_kind == "help_reply":  # issued by compliance for a HELP the contact itself texted
        return Outcome(Check(name="opt_out", result="pass", detail="the answer to the contact's own HELP"))
    when = rfc3339(s.opted_out_at) if s.opted_out_at else "earlier"
    if s.opt_out_source == "api":
        reason = (f"{f.to} was opted out through the API at {when}: record consent again (POST /v1/consent), "
                  "or the contact texts START to opt back in")
    else:
        how = f" ({s.opt_out_rule})" if s.opt_out_rule else ""
        reason = (f"{f.to} opted out{how} at {when}; nothing more can be sent until the contact texts START "
                  "to opt back in")
    return Outcome(Check(name="opt_out", result="fail", detail=reason), "RECIPIENT_OPTED_OUT", 453, reason)


def check_registration(sender: Sender | None) -> Outcome:
    if sender is None:
        return Outcome(Check(name="registration", result="skip", detail="not checked: an earlier check failed"))
    if sender.sending_enabled:
        return Outcome(Check(name="registration", result="pass", detail="the number is on an approved campaign"))
    reason = sender.reason or "sending is not enabled for this number: register a brand and a campaign"
    if sender.reason_code:
        reason = f"{reason} ({sender.reason_code})"
    return Outcome(Check(name="registration", result="fail", detail=reason), "SENDING_NOT_ENABLED", 403, reason)


def check_consent(s: ContactState, p: Policy, f: SendFacts, now: datetime) -> Outcome:
    if f.effective_kind in EXEMPT_KINDS:
        return Outcome(Check(name="consent", result="skip", detail=f"exempt: {f.effective_kind}"))
    if s.consent_id and not s.opted_out:
        at = rfc3339(s.consent_granted_at) if s.consent_granted_at else ""
        return Outcome(Check(name="consent", result="pass", detail=f"consent ({s.consent_method}) granted {at}".strip()))
    marketing = f.category == "marketing"
    if p.conversation_window_enabled and s.last_inbound_at is not None and not s.opted_out and not marketing:
        until = s.last_inbound_at + timedelta(hours=p.conversation_window_hours)
        if now < until:
            return Outcome(Check(name="consent", result="pass",
                                 detail=f"conversation: the contact wrote at {rfc3339(s.last_inbound_at)}; "
                                        f"replies allowed until {rfc3339(until)}"))
    reason = (f"no consent on file for {f.to}: start a double opt-in (POST /v1/consent/double-opt-in), record "
              "the consent you collected (POST /v1/consent)")
    if p.conversation_window_enabled and marketing:
        reason += "; the conversation window never carries marketing: marketing needs the contact's consent"
    elif p.conversation_window_enabled:
        reason += f", or reply within {p.conversation_window_hours} h of a message from the contact"
    return Outcome(Check(name="consent", result="fail", detail=reason), "CONSENT_REQUIRED", 453, reason)


def check_quiet_hours(p: Policy, f: SendFacts, now: datetime) -> Outcome:
    if not p.quiet_hours_enabled:
        return Outcome(Check(name="quiet_hours", result="skip", detail="quiet hours are off for this organization"))
    if f.effective_kind in QUIET_EXEMPT_KINDS or (f.category == "transactional" and f.effective_kind == "standard"):
        why = f.effective_kind if f.effective_kind in QUIET_EXEMPT_KINDS else "transactional"
        return Outcome(Check(name="quiet_hours", result="skip", detail=f"exempt: {why}"))
    area = quiet_hours.area_of(f.to)
    view = quiet_hours.local_view(area, now)
    if quiet_hours.is_open(area, now):
        return Outcome(Check(name="quiet_hours", result="pass", detail=f"inside allowed hours: {view}"))
    opens = quiet_hours.next_open(area, now)
    when = rfc3339(opens) if opens else "not within the next week"
    if p.quiet_hours_action == "defer" and opens is not None:
        return Outcome(Check(name="quiet_hours", result="defer", detail=f"quiet hours ({view}); deferred to {when}"),
                       defer_until=opens)
    reason = (f"quiet hours for {f.to} ({view}): send after {when}, or mark the message transactional if the "
              "contact asked for it")
    return Outcome(Check(name="quiet_hours", result="fail", detail=reason), "QUIET_HOURS", 453, reason)


def caps_of(p: Policy, f: SendFacts) -> tuple[Cap, ...]:
    """The frequency caps this send is under (none for the texts compliance itself sends)."""
    if f.effective_kind != "standard":
        return ()
    return frequency.caps_for(p.frequency_caps, quiet_hours.area_of(f.to).state, f.category)


class Counted(msgspec.Struct, frozen=True):
    """What the frequency check knows: the contact's other allowed sends (None: this message was counted
    when it was accepted)."""

    sends: Sequence[Sent] | None


def check_frequency(p: Policy, f: SendFacts, counted: Counted | None, now: datetime,
                    quiet_defer: datetime | None) -> Outcome:
    caps = caps_of(p, f)
    if not caps:
        return Outcome(Check(name="frequency_cap", result="skip",
                             detail=f"no frequency cap for {f.category} messages to {f.to}"))
    if counted is None or counted.sends is None:
        return Outcome(Check(name="frequency_cap", result="pass", detail="counted when the message was accepted"))
    sends = counted.sends
    start = max(now, f.send_at or now, quiet_defer or now)
    slot = frequency.earliest(sends, caps, start)
    summary = "; ".join(f"{frequency.count_in_window(sends, c, start)} of {c.describe()}" for c in caps)
    if slot == start:
        return Outcome(Check(name="frequency_cap", result="pass", detail=f"within the cap: {summary}"))
    action = f.on_frequency_cap or p.frequency_cap_action
    when = rfc3339(slot) if slot else "not within a year"
    if action == "defer" and slot is not None:
        opens, area = slot, quiet_hours.area_of(f.to)
        quiet_applies = check_quiet_hours(p, f, now).check.result != "skip"
        for _ in range(4):  # the slot may fall in quiet hours: then the window's opening, if the caps allow it
            if not quiet_applies or quiet_hours.is_open(area, opens):
                break
            nxt = quiet_hours.next_open(area, opens)
            later = frequency.earliest(sends, caps, nxt) if nxt else None
            if later is None:
                break
            opens = later
        return Outcome(Check(name="frequency_cap", result="defer",
                             detail=f"over the cap ({summary}); deferred to {rfc3339(opens)}"),
                       defer_until=opens, details={"next_allowed_at": rfc3339(opens)})
    reason = (f"frequency cap for {f.to}: {summary}; the next {f.category} message is allowed at {when} "
              "(ask for \"on_frequency_cap\": \"defer\" to schedule it then)")
    return Outcome(Check(name="frequency_cap", result="fail", detail=reason), "FREQUENCY_CAP", 453, reason,
                   details={"next_allowed_at": when if slot else None, "caps": [c.describe() for c in caps]})


def decide(s: ContactState, p: Policy, f: SendFacts, sender: Sender | None, now: datetime,
           counted: Counted | None = None) -> SendDecision:
    """Checks in order opt_out, registration, consent, quiet_hours, frequency_cap; the first failure denies,
    a defer (the latest) defers, else allow. ``sender`` None: registration was not checked (only after an
    opt-out deny). ``counted`` None: the caps were not counted (none apply, or an earlier check failed)."""
    quiet = check_quiet_hours(p, f, now)
    outcomes = [check_opt_out(s, f), check_registration(sender), check_consent(s, p, f, now), quiet,
                check_frequency(p, f, counted, now, quiet.defer_until)]
    checks = [o.check for o in outcomes]
    for o in outcomes:
        if o.check.result == "fail":
            return SendDecision(decision="deny", code=o.code, reason=o.reason, status=o.status, checks=checks,
                                details=o.details)
    defers = [o for o in outcomes if o.check.result == "defer" and o.defer_until is not None]
    if defers:
        o = max(defers, key=lambda x: x.defer_until or now)
        assert o.defer_until is not None
        return SendDecision(decision="defer", reason=o.check.detail, defer_until=o.defer_until,
                            checks=checks, details=o.details)
    if sender is None:
        raise ValueError("an allow needs the registration check")
    return SendDecision(decision="allow", checks=checks)


def check_double_opt_in(s: ContactState, last_request_at: datetime | None, now: datetime,
                        per_hours: int = 24) -> None:
    """A double opt-in is subject to opt-out and allowed once per contact per ``per_hours``."""
    if s.opted_out:
        how = f" ({s.opt_out_rule})" if s.opt_out_rule else ""
        raise CommandError("RECIPIENT_OPTED_OUT", f"the contact opted out{how}: it must text START to opt back in "
                           "before it can be asked again", 453, {"field": "contact_number"})
    if last_request_at is not None and now - last_request_at < timedelta(hours=per_hours):
        again = last_request_at + timedelta(hours=per_hours)
        raise CommandError("DOUBLE_OPT_IN_RATE_LIMITED",
                           f"a double opt-in was already sent to this contact at {rfc3339(last_request_at)}; "
                           f"one is allowed per {per_hours} h, next at {rfc3339(again)}", 429,
                           {"field": "contact_number", "retry_after": rfc3339(again)})


def double_opt_in_send_time(p: Policy, from_: str, to: str, message_id: str, org_id: str, now: datetime) -> datetime:
    """When a double opt-in confirmation may go out: now, or when the recipient's allowed hours open (its
    reply window counts from then). Under a ``reject`` policy outside the hours: 453 QUIET_HOURS."""
    f = SendFacts(org_id=org_id, message_id=message_id, from_=from_, to=to, kind="opt_in_request",
                  category="conversational", issued_kind="opt_in_request")
    o = check_quiet_hours(p, f, now)
    if o.check.result == "fail":
        raise CommandError("QUIET_HOURS", f"the confirmation text is not sent outside the recipient's allowed hours: "
                           f"{o.reason}", 453, {"field": "contact_number"})
    return o.defer_until or now
