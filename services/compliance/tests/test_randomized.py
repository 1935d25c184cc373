"""Randomized interleavings of consents, double opt-ins, opt-outs, opt-ins, policy changes, clock moves and
sends (hypothesis is not installed: ``random`` with fixed seeds). Every gate decision is compared with an
independent oracle written from the rules, so no send is ever allowed against them (and none is denied
that the rules allow)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from msgspec.structs import replace

from proto.base import CommandError, Event
from proto.events.compliance import ConsentGranted, DoubleOptInExpired, ReplyIssued
from services.compliance import model
from services.compliance.keywords import classify

ORG, OURS = "org-r", "+14155550999"
# number -> (zones, {weekday: (open, close)} with "*" the default): written from DOMAIN.md, not from the code
WINDOWS = {
    "+14155550123": (["America/Los_Angeles"], {"*": (8, 21)}),
    "+13055550123": (["America/New_York"], {"*": (8, 20)}),
    "+12145550123": (["America/Chicago"], {"*": (9, 21), 6: (12, 21)}),
    "+15551234567": (["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                      "America/Los_Angeles", "America/Anchorage", "America/Adak", "Pacific/Honolulu"], {"*": (8, 21)}),
}
TEXTS = ["STOP", "stop", "Stop please", "remove me from this list", "please stop texting me", "don't text me",
         "UNSUBSCRIBE", "end", "START", "unstop", "YES", "y", "HELP", "info", "hello", "sure, see you then",
         "stop by at 5", "cancel my appointment"]


def oracle_open(number: str, now: datetime) -> bool:
    zones, windows = WINDOWS[number]
    for z in zones:
        local = now.astimezone(ZoneInfo(z))
        lo, hi = windows.get(local.weekday(), windows["*"])
        if not (lo <= local.hour < hi):
            return False
    return True


@dataclass
class Oracle:
    opted_out: bool = False
    by_text: bool = False
    consent: bool = False
    last_inbound: datetime | None = None
    pending_expires: datetime | None = None
    last_doi: datetime | None = None
    confirmation_id: str | None = None
    allowed_while_out: set[str] = field(default_factory=set)


@dataclass
class Contact:
    number: str
    state: model.ContactState = field(default_factory=model.ContactState)
    pending: list[model.PendingDoubleOptIn] = field(default_factory=list)
    last_doi: datetime | None = None
    o: Oracle = field(default_factory=Oracle)


class World:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = datetime(2026, 1, 12, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 180))
        self.contacts = [Contact(n) for n in WINDOWS]
        self.policy = model.Policy()
        self.sender_ok = True
        self.issued: dict[str, tuple[Contact, str]] = {}
        self.seq = 0
        self.checked = 0

    def next_id(self) -> str:
        self.seq += 1
        return f"id-{self.seq}"

    def apply(self, c: Contact, events: list[Event]) -> None:
        c.state = model.fold(c.state, events)
        for ev in events:
            if isinstance(ev, ReplyIssued):
                self.issued[ev.message_id] = (c, ev.kind)
            # as the store projects them: only the request's own confirmation or expiry closes it
            if isinstance(ev, ConsentGranted) and ev.evidence.double_opt_in_id:
                c.pending = [d for d in c.pending if d.id != ev.evidence.double_opt_in_id]
            if isinstance(ev, DoubleOptInExpired):
                c.pending = [d for d in c.pending if d.id != ev.request_id]

    # -- operations ---------------------------------------------------------------------------------
    def text_in(self, c: Contact) -> None:
        # a contact with a double opt-in out answers it (or not, or late) more often than it chats
        body = self.rng.choice(["YES", "Y"] if c.pending and self.rng.random() < 0.5 else TEXTS)
        ev_id = self.next_id()
        c.state = replace(c.state, last_inbound_at=self.now)
        pending = c.pending[-1] if c.pending else None  # the newest pending request, as the store picks
        m = model.Inbound(event_id=ev_id, message_id=f"in-{ev_id}", org_id=ORG, contact=c.number, our_number=OURS,
                          phone_number_id="pn", body=body, received_at=self.now)
        self.apply(c, model.on_inbound(c.state, classify(body), pending, m, self.policy, model.Texts(), self.now))
        # the oracle, from the rules
        o, intent = c.o, classify(body).intent
        o.last_inbound = self.now
        valid = o.pending_expires is not None and self.now <= o.pending_expires
        if intent == "opt_out" and not o.opted_out:
            o.opted_out, o.by_text, o.consent, o.pending_expires = True, True, False, None
            o.confirmation_id, o.allowed_while_out = model.message_id_for(ev_id, "opt_out_confirmation"), set()
        elif intent in ("opt_in", "affirm"):
            if valid and not o.opted_out:
                o.consent, o.pending_expires = True, None
            elif o.opted_out:
                o.opted_out, o.consent = False, True
            elif intent == "opt_in":
                o.consent = True

    def double_opt_in(self, c: Contact) -> None:
        o = c.o
        allowed = not o.opted_out and (o.last_doi is None or self.now - o.last_doi >= timedelta(hours=24))
        try:
            model.check_double_opt_in(c.state, c.last_doi, self.now)
        except CommandError:
            assert not allowed
            return
        assert allowed
        req = self.next_id()
        msg_id = model.message_id_for(req, "opt_in_request")
        expires = self.now + timedelta(hours=self.policy.double_opt_in_expiry_hours)
        c.pending.append(model.PendingDoubleOptIn(id=req, phone_number_id="pn", confirmation_text="Reply YES",
                                                  message_id=msg_id, created_at=self.now, expires_at=expires))
        c.last_doi = o.last_doi = self.now
        o.pending_expires = expires
        self.issued[msg_id] = (c, "opt_in_request")

    def record_consent(self, c: Contact) -> None:
        if c.state.opted_out and c.state.opt_out_source != "api":
            assert c.o.opted_out and c.o.by_text
            return
        assert not c.o.by_text or not c.o.opted_out
        self.apply(c, [ConsentGranted(org_id=ORG, contact_number=c.number, consent_id=self.next_id(),
                                      method="web_form", occurred_at=self.now)])
        c.o.consent, c.o.opted_out = True, False

    def revoke(self, c: Contact) -> None:
        from proto.events.compliance import ConsentRevoked, OptOutRecorded

        if c.state.opted_out:
            return
        events: list[Event] = []
        if c.state.consent_id:
            events.append(ConsentRevoked(org_id=ORG, contact_number=c.number, consent_id=c.state.consent_id,
                                         source="api", occurred_at=self.now))
        events.append(OptOutRecorded(org_id=ORG, contact_number=c.number, source="api", occurred_at=self.now))
        if c.pending:
            events.append(DoubleOptInExpired(org_id=ORG, request_id=c.pending[-1].id, contact_number=c.number,
                                             reason="opted_out", occurred_at=self.now))
        self.apply(c, events)
        o = c.o
        o.opted_out, o.by_text, o.consent, o.pending_expires = True, False, False, None
        o.confirmation_id, o.allowed_while_out = None, set()

    def expire(self) -> None:
        for c in self.contacts:
            if c.pending and c.pending[-1].expires_at <= self.now:
                self.apply(c, [DoubleOptInExpired(org_id=ORG, request_id=c.pending[-1].id, contact_number=c.number,
                                                  occurred_at=self.now)])
                c.o.pending_expires = None

    def send(self, c: Contact, kind: str = "standard", message_id: str | None = None,
             issued_kind: str | None = None) -> None:
        category = self.rng.choice(["conversational", "marketing", "transactional"])
        if kind != "standard":
            category = "transactional"
        mid = message_id or self.next_id()
        f = model.SendFacts(org_id=ORG, message_id=mid, from_=OURS, to=c.number, kind=kind, category=category,
                            issued_kind=issued_kind)
        opt = model.check_opt_out(c.state, f)
        sender = model.Sender(self.sender_ok, "CAMPAIGN_PENDING", "pending") if opt.check.result != "fail" else None
        d = model.decide(c.state, self.policy, f, sender, self.now)
        want, code = self.expected(c, f)
        assert (d.decision, d.code) == (want, code), (d, c.o, self.policy, self.now, f)
        if d.decision == "defer":
            assert d.defer_until is not None
            until = d.defer_until
            assert until > self.now and oracle_open(c.number, until)
        if d.decision == "allow" and c.o.opted_out and f.kind != "help_reply":  # (HELP: the contact asked)
            c.o.allowed_while_out.add(mid)
            assert len(c.o.allowed_while_out) == 1
        self.checked += 1

    def expected(self, c: Contact, f: model.SendFacts) -> tuple[str, str | None]:
        o, p = c.o, self.policy
        eff = f.kind if f.kind == "standard" or f.kind == f.issued_kind else "standard"
        if o.opted_out and not (eff == "opt_out_confirmation" and f.message_id == o.confirmation_id) \
                and eff != "help_reply":
            return "deny", "RECIPIENT_OPTED_OUT"
        if not self.sender_ok:
            return "deny", "SENDING_NOT_ENABLED"
        in_window = (p.conversation_window_enabled and o.last_inbound is not None
                     and self.now - o.last_inbound < timedelta(hours=p.conversation_window_hours))
        if eff == "standard" and not o.consent and not (in_window and not o.opted_out and f.category != "marketing"):
            return "deny", "CONSENT_REQUIRED"
        quiet_applies = (eff == "standard" and f.category != "transactional") or eff == "opt_in_request"
        if p.quiet_hours_enabled and quiet_applies and not oracle_open(c.number, self.now):
            return ("defer", None) if p.quiet_hours_action == "defer" else ("deny", "QUIET_HOURS")
        return "allow", None

    def step(self) -> None:
        r, rng = self.rng.random(), self.rng
        c = rng.choice(self.contacts)
        if r < 0.15:
            self.now += timedelta(minutes=rng.choice([1, 5, 30, 61, 90, 300, 60 * 13, 60 * 25]))
            if rng.random() < 0.5:  # the expiry sweep lags behind the clock as often as not
                self.expire()
        elif r < 0.35:
            self.text_in(c)
        elif r < 0.42:
            self.double_opt_in(c)
        elif r < 0.47:
            self.record_consent(c)
        elif r < 0.50:
            self.revoke(c)
        elif r < 0.54:
            self.policy = replace(self.policy, quiet_hours_enabled=rng.random() < 0.8,
                                  quiet_hours_action=rng.choice(["defer", "reject"]),
                                  conversation_window_enabled=rng.random() < 0.7,
                                  conversation_window_hours=rng.choice([1, 24, 48]),
                                  double_opt_in_expiry_hours=rng.choice([1, 24]))
        elif r < 0.57:
            self.sender_ok = rng.random() < 0.85
        elif r < 0.72 and self.issued:
            mid = rng.choice(sorted(self.issued))
            owner, kind = self.issued[mid]
            self.send(owner, kind, mid, issued_kind=kind)
        elif r < 0.77:  # a caller claiming an exempt kind for a message compliance never issued
            self.send(c, rng.choice(sorted(model.EXEMPT_KINDS)), self.next_id(), issued_kind=None)
        else:
            self.send(c)


def test_no_decision_against_the_rules_over_random_interleavings() -> None:
    checked = 0
    for seed in range(300):
        world = World(random.Random(seed))
        for _ in range(120):
            world.step()
        checked += world.checked
    assert checked > 10_000
