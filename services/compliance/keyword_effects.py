"""What a classified inbound text does to the contact's ledger, pure: the entries for an opt-out, a HELP,
a START or the YES to a double opt-in, and the replies to issue under deterministic message ids (a
redelivery issues the same ones). ``model`` re-exports these names; the wording is in ``rules``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from proto.base import Event
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
from services.compliance.keywords import Classified
from services.compliance.rules import Texts, help_text, opt_in_text, opt_out_text

if TYPE_CHECKING:
    from services.compliance.model import ContactState, Policy

_NS = uuid.UUID("6f1d3c56-7a7e-4c1e-9d39-3a0c2b7b6e10")


def message_id_for(source_id: str, purpose: str) -> str:
    """A deterministic message id for a text we send because of ``source_id`` (an event or request):
    a redelivery asks outbound for the same message, which outbound answers with the first one."""
    return str(uuid.uuid5(_NS, f"{source_id}:{purpose}"))



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


def on_inbound(s: ContactState, c: Classified, pending: PendingDoubleOptIn | None, m: Inbound, p: Policy,
               t: Texts, now: datetime) -> list[Event]:
    """The ledger entries (and replies to issue) for a keyword or plain-language text."""
    if pending is not None and m.received_at > pending.expires_at:
        pending = None
    if c.intent in ("opt_out", "opt_in", "affirm") and s.said_at is not None and m.received_at < s.said_at:
        return []  # the contact said otherwise later, and that was applied first: its latest word stands
    match c.intent:
        case "opt_out":
            return _opt_out(s, c, pending, m, p, t, now)
        case "help":
            return _help(s, c, m, p, t, now)
        case "opt_in" | "affirm":
            return _opt_in(s, c, pending, m, p, t, now)
        case None:
            return []


def _reply(m: Inbound, now: datetime, kind: str, text: str, purpose: str) -> ReplyIssued:
    return ReplyIssued(org_id=m.org_id, occurred_at=now, contact_number=m.contact, kind=kind,
                       from_number=m.our_number, text=text, inbound_message_id=m.message_id,
                       message_id=message_id_for(m.event_id, purpose))


def _opt_out(s: ContactState, c: Classified, pending: PendingDoubleOptIn | None, m: Inbound, p: Policy,
             t: Texts, now: datetime) -> list[Event]:
    if s.opted_out:
        return []  # already opted out: one confirmation per opt-out, none for a repeat
    org, to = m.org_id, m.contact
    source = c.source or "keyword"
    out: list[Event] = []
    if s.consent_id:
        out.append(ConsentRevoked(org_id=org, occurred_at=now, contact_number=to, consent_id=s.consent_id,
                                  source=source, reason=f"opt-out: {c.rule}"))
    out.append(OptOutRecorded(org_id=org, occurred_at=now, contact_number=to, source=source,
                              matched_rule=c.rule, inbound_message_id=m.message_id, received_at=m.received_at))
    if pending is not None:
        out.append(DoubleOptInExpired(org_id=org, occurred_at=now, request_id=pending.id, contact_number=to,
                                      reason="opted_out"))
    out.append(_reply(m, now, "opt_out_confirmation",
                      opt_out_text(p, t, c.language, campaign=c.source == "campaign_keyword"),
                      "opt_out_confirmation"))
    return out


def _help(s: ContactState, c: Classified, m: Inbound, p: Policy, t: Texts, now: datetime) -> list[Event]:
    """HELP is always answered, an opted-out contact's too: the contact asked, and carriers expect it."""
    return [HelpRequested(org_id=m.org_id, occurred_at=now, contact_number=m.contact, keyword=c.keyword,
                          inbound_message_id=m.message_id, phone_number_id=m.phone_number_id, answered=True),
            _reply(m, now, "help_reply", help_text(p, t, c.language, campaign=c.source == "campaign_keyword"),
                   "help_reply")]


def _opt_in(s: ContactState, c: Classified, pending: PendingDoubleOptIn | None, m: Inbound, p: Policy,
            t: Texts, now: datetime) -> list[Event]:
    org, to = m.org_id, m.contact
    received = m.received_at
    consent_id = message_id_for(m.event_id, "consent")
    reply = _reply(m, now, "keyword_reply", opt_in_text(p, t, c.language, campaign=c.source == "campaign_keyword"),
                   "opt_in_reply")
    if pending is not None and not s.opted_out:
        evidence = ConsentEvidence(
            disclosure_text=pending.confirmation_text, phone_number_id=pending.phone_number_id,
            keyword=c.keyword, captured_at=received, double_opt_in_id=pending.id,
            confirmation_text=pending.confirmation_text, confirmation_message_id=pending.message_id,
            confirmation_sent_at=pending.created_at, reply_message_id=m.message_id,
            reply_text=m.body, reply_received_at=received)
        return [ConsentGranted(org_id=org, occurred_at=now, contact_number=to, consent_id=consent_id,
                               method="double_opt_in", evidence=evidence), reply]
    if c.intent == "affirm" and not s.opted_out:
        return []  # a plain "yes" in a conversation: no opt-in pending, nothing to opt back into
    if not s.opted_out and s.consent_id:
        return []  # START while subscribed: nothing changes
    evidence = ConsentEvidence(phone_number_id=m.phone_number_id, keyword=c.keyword, captured_at=received,
                               reply_message_id=m.message_id, reply_text=m.body, reply_received_at=received)
    return [OptInRecorded(org_id=org, occurred_at=now, contact_number=to, keyword=c.keyword,
                          inbound_message_id=m.message_id, phone_number_id=m.phone_number_id,
                          received_at=received),
            ConsentGranted(org_id=org, occurred_at=now, contact_number=to, consent_id=consent_id,
                           method="keyword", evidence=evidence), reply]
