"""Pure rules of compliance: the contact's consent state (evolve), the send gate (decide), what an
inbound keyword leads to (on_inbound), and the texts we answer with. No I/O; ``now`` is an argument."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from proto.base import CommandError, Event, rfc3339
from proto.commands.compliance import Check, SendDecision
from proto.events.compliance import (
    ConsentEvidence,
    ConsentGranted,
    ConsentRevoked,
    DoubleOptInExpired,
    HelpRequested,
    OptInRecorded,
    OptOutRecorded,
    ReplyIssued,
)
from services.compliance import quiet_hours
from services.compliance.keywords import Classified

EXEMPT_KINDS = frozenset({"opt_in_request", "opt_out_confirmation", "help_reply", "keyword_reply"})
"""Kinds compliance itself sends: exempt from consent and quiet hours, never from opt-out."""

_NS = uuid.UUID("6f1d3c56-7a7e-4c1e-9d39-3a0c2b7b6e10")


def message_id_for(source_id: str, purpose: str) -> str:
    """A deterministic message id for a text we send because of ``source_id`` (an event or request):
    a redelivery asks outbound for the same message, which outbound answers with the first one."""
    return str(uuid.uuid5(_NS, f"{source_id}:{purpose}"))


@dataclass(frozen=True)
class Policy:
    quiet_hours_enabled: bool = True
    quiet_hours_action: Literal["defer", "reject"] = "defer"
    conversation_window_enabled: bool = False
    conversation_window_hours: int = 24
    double_opt_in_expiry_hours: int = 24
    help_reply: str | None = None
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None


@dataclass(frozen=True)
class ContactState:
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

    @property
    def status(self) -> str:
        return "opted_out" if self.opted_out else "granted" if self.consent_id else "none"


def evolve(s: ContactState, ev: Event) -> ContactState:
    match ev:
        case ConsentGranted():
            return replace(s, consent_id=ev.consent_id, consent_method=ev.method, consent_granted_at=ev.occurred_at,
                           opted_out=False, opt_out_source=None, opt_out_rule=None, opted_out_at=None)
        case ConsentRevoked():
            return replace(s, consent_id=None, consent_method=None, consent_granted_at=None)
        case OptOutRecorded():
            return replace(s, opted_out=True, opted_out_at=ev.occurred_at, opt_out_source=ev.source,
                           opt_out_rule=ev.matched_rule or None, opt_out_confirmation_id=None)
        case OptInRecorded():
            return replace(s, opted_out=False, opted_out_at=None, opt_out_source=None, opt_out_rule=None)
        case ReplyIssued() if ev.kind == "opt_out_confirmation":
            return replace(s, opt_out_confirmation_id=ev.message_id)
        case _:
            return s


def fold(s: ContactState, events: list[Event]) -> ContactState:
    for ev in events:
        s = evolve(s, ev)
    return replace(s, version=s.version + len(events))


# -- the gate -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendFacts:
    org_id: str
    message_id: str
    from_: str
    to: str
    kind: str
    category: str
    issued_kind: str | None = None
    """The kind under which compliance itself issued this message id (None: not ours)."""

    @property
    def effective_kind(self) -> str:
        """A special kind counts only for a message compliance issued: no caller can claim an exemption."""
        return self.kind if self.kind == "standard" or self.kind == self.issued_kind else "standard"


@dataclass(frozen=True)
class Sender:
    sending_enabled: bool
    reason_code: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    check: Check
    code: str | None = None
    status: int = 200
    reason: str = ""
    defer_until: datetime | None = None


def check_opt_out(s: ContactState, f: SendFacts) -> Outcome:
    if not s.opted_out:
        return Outcome(Check(name="opt_out", result="pass", detail="the contact has not opted out"))
    if f.effective_kind == "opt_out_confirmation" and f.message_id == s.opt_out_confirmation_id:
        return Outcome(Check(name="opt_out", result="pass", detail="the one confirmation of the contact's opt-out"))
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
    if p.conversation_window_enabled and s.last_inbound_at is not None and not s.opted_out:
        until = s.last_inbound_at + timedelta(hours=p.conversation_window_hours)
        if now < until:
            return Outcome(Check(name="consent", result="pass",
                                 detail=f"conversation: the contact wrote at {rfc3339(s.last_inbound_at)}; "
                                        f"replies allowed until {rfc3339(until)}"))
    reason = (f"no consent on file for {f.to}: start a double opt-in (POST /v1/consent/double-opt-in), record "
              "the consent you collected (POST /v1/consent)")
    if p.conversation_window_enabled:
        reason += f", or reply within {p.conversation_window_hours} h of a message from the contact"
    return Outcome(Check(name="consent", result="fail", detail=reason), "CONSENT_REQUIRED", 453, reason)


def check_quiet_hours(p: Policy, f: SendFacts, now: datetime) -> Outcome:
    if not p.quiet_hours_enabled:
        return Outcome(Check(name="quiet_hours", result="skip", detail="quiet hours are off for this organization"))
    if f.category == "transactional" or f.effective_kind in EXEMPT_KINDS:
        why = "transactional" if f.category == "transactional" else f.effective_kind
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


def decide(s: ContactState, p: Policy, f: SendFacts, sender: Sender | None, now: datetime) -> SendDecision:
    """Checks in order opt_out, registration, consent, quiet_hours; the first failure denies, a quiet-hours
    defer defers, else allow. ``sender`` None: registration was not checked (only after an opt-out deny)."""
    outcomes = [check_opt_out(s, f), check_registration(sender), check_consent(s, p, f, now),
                check_quiet_hours(p, f, now)]
    checks = [o.check for o in outcomes]
    for o in outcomes:
        if o.check.result == "fail":
            return SendDecision(decision="deny", code=o.code, reason=o.reason, status=o.status, checks=checks)
    for o in outcomes:
        if o.check.result == "defer" and o.defer_until is not None:
            return SendDecision(decision="defer", reason=o.check.detail, defer_until=rfc3339(o.defer_until),
                                checks=checks)
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


# -- inbound keywords ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Inbound:
    event_id: str
    message_id: str
    org_id: str
    contact: str
    our_number: str
    phone_number_id: str
    body: str
    received_at: datetime


@dataclass(frozen=True)
class PendingDoubleOptIn:
    id: str
    phone_number_id: str
    confirmation_text: str
    message_id: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Texts:
    """What the replies say: the organization's custom text, else the campaign's, else ours."""

    brand: str = ""
    help_message: str | None = None
    opt_out_message: str | None = None


def _brand(t: Texts) -> str:
    return t.brand or "This sender"


def help_text(p: Policy, t: Texts) -> str:
    return p.help_reply or t.help_message or (
        f"{_brand(t)}: for help, reply to this message. Msg frequency varies. "
        "Reply STOP to opt out. Msg & data rates may apply.")


def opt_out_text(p: Policy, t: Texts) -> str:
    return p.opt_out_reply or t.opt_out_message or (
        f"{_brand(t)}: you are unsubscribed and will receive no more messages. Reply START to resubscribe.")


def opt_in_text(p: Policy, t: Texts) -> str:
    return p.opt_in_reply or (
        f"{_brand(t)}: you are subscribed. Msg frequency varies. Reply HELP for help, STOP to opt out. "
        "Msg & data rates may apply.")


def on_inbound(s: ContactState, c: Classified, pending: PendingDoubleOptIn | None, m: Inbound, p: Policy,
               t: Texts, now: datetime) -> list[Event]:
    """The ledger entries (and replies to issue) for a keyword or plain-language text."""
    org, to = m.org_id, m.contact
    if pending is not None and m.received_at > pending.expires_at:
        pending = None

    def reply(kind: str, text: str, purpose: str) -> ReplyIssued:
        return ReplyIssued(org_id=org, occurred_at=now, contact_number=to, kind=kind, from_number=m.our_number,
                           text=text, inbound_message_id=m.message_id, message_id=message_id_for(m.event_id, purpose))

    match c.intent:
        case "opt_out":
            if s.opted_out:
                return []  # already opted out: one confirmation per opt-out, none for a repeat
            source = c.source or "keyword"
            out: list[Event] = []
            if s.consent_id:
                out.append(ConsentRevoked(org_id=org, occurred_at=now, contact_number=to, consent_id=s.consent_id,
                                          source=source, reason=f"opt-out: {c.rule}"))
            out.append(OptOutRecorded(org_id=org, occurred_at=now, contact_number=to, source=source,
                                      matched_rule=c.rule, inbound_message_id=m.message_id))
            if pending is not None:
                out.append(DoubleOptInExpired(org_id=org, occurred_at=now, request_id=pending.id, contact_number=to,
                                              reason="opted_out"))
            out.append(reply("opt_out_confirmation", opt_out_text(p, t), "opt_out_confirmation"))
            return out
        case "help":
            answered = not s.opted_out  # an opted-out contact gets nothing but its one confirmation
            help_ev: list[Event] = [HelpRequested(org_id=org, occurred_at=now, contact_number=to, keyword=c.keyword,
                                                  inbound_message_id=m.message_id,
                                                  phone_number_id=m.phone_number_id, answered=answered)]
            if answered:
                help_ev.append(reply("help_reply", help_text(p, t), "help_reply"))
            return help_ev
        case "opt_in" | "affirm":
            received = rfc3339(m.received_at)
            consent_id = message_id_for(m.event_id, "consent")
            if pending is not None and not s.opted_out:
                evidence = ConsentEvidence(
                    disclosure_text=pending.confirmation_text, phone_number_id=pending.phone_number_id,
                    keyword=c.keyword, captured_at=received, double_opt_in_id=pending.id,
                    confirmation_text=pending.confirmation_text, confirmation_message_id=pending.message_id,
                    confirmation_sent_at=rfc3339(pending.created_at), reply_message_id=m.message_id,
                    reply_text=m.body, reply_received_at=received)
                return [ConsentGranted(org_id=org, occurred_at=now, contact_number=to, consent_id=consent_id,
                                       method="double_opt_in", evidence=evidence),
                        reply("keyword_reply", opt_in_text(p, t), "opt_in_reply")]
            if c.intent == "affirm" and not s.opted_out:
                return []  # a plain "yes" in a conversation: no opt-in pending, nothing to opt back into
            if not s.opted_out and s.consent_id:
                return []  # START while subscribed: nothing changes
            evidence = ConsentEvidence(phone_number_id=m.phone_number_id, keyword=c.keyword, captured_at=received,
                                       reply_message_id=m.message_id, reply_text=m.body, reply_received_at=received)
            return [OptInRecorded(org_id=org, occurred_at=now, contact_number=to, keyword=c.keyword,
                                  inbound_message_id=m.message_id, phone_number_id=m.phone_number_id),
                    ConsentGranted(org_id=org, occurred_at=now, contact_number=to, consent_id=consent_id,
                                   method="keyword", evidence=evidence),
                    reply("keyword_reply", opt_in_text(p, t), "opt_in_reply")]
        case None:
            return []
