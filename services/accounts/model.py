"""Pure rules of accounts: the Organization, ApiKey, Session and credit (Reservation, balance) aggregates as
``evolve`` (state after an event) and ``decide`` (events a command leads to, or the refusal with its reason,
returned as a ``CommandError``, never raised). No I/O: ids, hashes and ``now`` arrive as arguments.

Credentials never ride on events (a password's or key's hash, a session token's hash): the handler writes
them beside the event that creates them, in its transaction (``store.Sealed``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from proto.base import CommandError, Event
from proto.events.accounts import (
    ApiKeyCreated,
    ApiKeyRevoked,
    CreditCaptured,
    CreditGranted,
    CreditReleased,
    CreditReserved,
    OrganizationCreated,
    SessionEnded,
    SessionStarted,
)

KEY_PREFIX = "am_live_"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_HASH = re.compile(r"^[0-9a-f]{64}$")

Decided = list[Event] | CommandError
"""What a ``decide_*`` answers: the events to append (none: nothing to change), or why not."""


# -- checks on what arrives ---------------------------------------------------------------------------
def check_key_fields(key_hash: str, prefix: str) -> CommandError | None:
    """A key arrives as its SHA-256 and display prefix, made by the gateway (never as a secret)."""
    if not _HASH.match(key_hash) or not prefix.startswith(KEY_PREFIX) or len(prefix) != len(KEY_PREFIX) + 4:
        return CommandError("VALIDATION_ERROR", "api key: malformed hash or prefix", 400)
    return None


def check_signup(email: str, password_hash: str, organization_name: str) -> CommandError | None:
    """Every field checked; the first bad one named, all of them listed."""
    fields: dict[str, str] = {}
    if not _EMAIL.match(email) or len(email) > 254:
        fields["email"] = "must be an email address"
    if not password_hash.startswith("$argon2id$") or len(password_hash) > 512:
        fields["password"] = "must arrive hashed (argon2id) by the gateway"
    if not organization_name.strip() or len(organization_name) > 200:
        fields["organization_name"] = "must be 1 to 200 characters"
    if not fields:
        return None
    field = next(iter(fields))
    return CommandError("VALIDATION_ERROR", f"{field}: {fields[field]}", 400, {"field": field, "fields": fields})


def normal_email(email: str) -> str:
    return email.strip().lower()


# -- Organization -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signup:
    """A signup with every id chosen (by the caller, or new) and the organization's first credit."""

    org_id: str
    user_id: str
    key_id: str
    grant_id: str
    email: str
    password_hash: str
    organization_name: str
    key_hash: str
    key_prefix: str
    credit_micros: int
    now: datetime


def decide_signup(email_taken: bool, s: Signup) -> Decided:
    """The organization with its owner, its default key and its signup credit: one stream each."""
    bad = check_signup(s.email, s.password_hash, s.organization_name) or check_key_fields(s.key_hash, s.key_prefix)
    if bad is not None:
        return bad
    if email_taken:
        return CommandError("EMAIL_TAKEN", "an account with this email already exists", 409, {"field": "email"})
    return [OrganizationCreated(org_id=s.org_id, name=s.organization_name.strip(), owner_user_id=s.user_id,
                                owner_email=s.email, occurred_at=s.now),
            ApiKeyCreated(org_id=s.org_id, key_id=s.key_id, name="default", prefix=s.key_prefix, occurred_at=s.now),
            CreditGranted(org_id=s.org_id, entry_id=s.grant_id, amount_micros=s.credit_micros,
                          reason="signup credit", occurred_at=s.now)]


# -- ApiKey -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyState:
    org_id: str | None = None
    """None: no key has this id."""
    revoked: bool = False

    @property
    def version(self) -> int:
        return 0 if self.org_id is None else 2 if self.revoked else 1


def evolve_key(s: KeyState, ev: Event) -> KeyState:
    match ev:
        case ApiKeyCreated():
            return KeyState(org_id=ev.org_id)
        case ApiKeyRevoked():
            return replace(s, revoked=True)
    return s


@dataclass(frozen=True)
class NewKey:
    org_id: str
    key_id: str
    name: str
    key_hash: str
    prefix: str
    scopes: list[str] | None
    caps: dict[str, Any] | None
    now: datetime


def decide_create_key(s: KeyState, k: NewKey) -> Decided:
    """No events for a repeat (the same caller-chosen id in the same organization): it was created."""
    name = k.name.strip()
    if not name or len(name) > 100:
        return CommandError("VALIDATION_ERROR", "name: must be 1 to 100 characters", 400, {"field": "name"})
    bad = check_key_fields(k.key_hash, k.prefix)
    if bad is not None:
        return bad
    if s.org_id is not None:
        return [] if s.org_id == k.org_id else CommandError("CONFLICT", "key_id: already used", 409,
                                                            {"field": "key_id"})
    return [ApiKeyCreated(org_id=k.org_id, key_id=k.key_id, name=name, prefix=k.prefix, scopes=k.scopes,
                          caps=k.caps, occurred_at=k.now)]


def decide_revoke_key(s: KeyState, org_id: str, key_id: str, now: datetime) -> Decided:
    """Another organization's key looks exactly like a missing one; a revoked key is gone."""
    if s.org_id != org_id or s.revoked:
        return CommandError("NOT_FOUND", "API key not found", 404)
    return [ApiKeyRevoked(org_id=org_id, key_id=key_id, occurred_at=now)]


# -- Session ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionState:
    org_id: str
    user_id: str
    ended: bool = False

    @property
    def version(self) -> int:
        return 2 if self.ended else 1


def evolve_session(s: SessionState | None, ev: Event) -> SessionState | None:
    match ev:
        case SessionStarted():
            return SessionState(org_id=ev.org_id, user_id=ev.user_id)
        case SessionEnded() if s is not None:
            return replace(s, ended=True)
    return s


MIN_SESSION_S, MAX_SESSION_S = 60, 90 * 86400


def decide_start_session(user_known: bool, org_id: str, user_id: str, session_id: str, ttl_s: int,
                         now: datetime) -> Decided:
    if not MIN_SESSION_S <= ttl_s <= MAX_SESSION_S:
        return CommandError("VALIDATION_ERROR", "ttl_s: must be 60 s to 90 days", 400, {"field": "ttl_s"})
    if not user_known:
        return CommandError("NOT_FOUND", "user not found", 404)
    expires = now + timedelta(seconds=ttl_s)
    return [SessionStarted(org_id=org_id, session_id=session_id, user_id=user_id,
                           expires_at=expires, occurred_at=now)]


def decide_end_session(s: SessionState, session_id: str, reason: str, now: datetime) -> Decided:
    """Ending an ended session changes nothing."""
    if s.ended:
        return []
    return [SessionEnded(org_id=s.org_id, session_id=session_id, user_id=s.user_id, reason=reason, occurred_at=now)]


# -- credit: reservations and the balance --------------------------------------------------------------
ReservationStatus = Literal["held", "captured", "released"]


@dataclass(frozen=True)
class ReservationState:
    org_id: str
    amount_micros: int
    status: ReservationStatus = "held"
    reference: str = ""
    version: int = 1
    """Events on its stream: CreditReserved, then its settlement; a release may be followed by a hold again."""


def evolve_reservation(s: ReservationState | None, ev: Event) -> ReservationState | None:
    match ev:
        case CreditReserved():
            return ReservationState(org_id=ev.org_id, amount_micros=ev.amount_micros, reference=ev.reference,
                                    version=1 if s is None else s.version + 1)
        case CreditCaptured() if s is not None:
            return replace(s, status="captured", version=s.version + 1)
        case CreditReleased() if s is not None:
            return replace(s, status="released", version=s.version + 1)
    return s


def balance_change(ev: Event) -> int:
    """What an event does to the organization's available credit (the balance is their running sum)."""
    match ev:
        case CreditGranted() | CreditReleased():
            return ev.amount_micros
        case CreditReserved():
            return -ev.amount_micros
    return 0  # a capture spends what its reservation already took


def check_funds(available_micros: int, amount_micros: int) -> CommandError | None:
    """A reservation may not take the balance below zero (the reserve statement applies this very rule
    in SQL, atomically with the hold: ``available_micros >= amount``)."""
    if amount_micros > available_micros:
        return CommandError("INSUFFICIENT_CREDIT", "not enough credit for this request; add credit and try again",
                            402, {"required_micros": amount_micros, "available_micros": available_micros})
    return None


def decide_reserve(s: ReservationState | None, org_id: str, reservation_id: str, amount_micros: int, reason: str,
                   reference: str, now: datetime) -> Decided:
    """Hold credit under a caller-chosen reservation id. No events for a repeat in the same organization
    while its reservation is held or captured (that reservation answers); the funds are checked where the
    balance is (``check_funds``). A released one is held again: its work never happened (a send whose
    write failed, or whose hold was given back as orphaned), and the caller's retry is that work again,
    which must be paid for once, not go out free."""
    if amount_micros < 0:
        return CommandError("VALIDATION_ERROR", "amount must not be negative", 400)
    if s is not None and s.org_id != org_id:
        return CommandError("RESERVATION_ID_TAKEN", "this reservation id is already in use", 409)
    if s is not None and s.status != "released":
        return []
    return [CreditReserved(org_id=org_id, reservation_id=reservation_id, amount_micros=amount_micros,
                           reason=reason, reference=reference, occurred_at=now)]


def decide_settle(s: ReservationState | None, org_id: str, reservation_id: str, capture: bool, reason: str,
                  now: datetime) -> Decided:
    """Capture (the work happened) or release (refund) a held reservation; a settled one stays as it is."""
    if s is None or s.org_id != org_id:
        return CommandError("NOT_FOUND", "reservation not found", 404)
    if s.status != "held":
        return []
    if capture:
        return [CreditCaptured(org_id=org_id, reservation_id=reservation_id, amount_micros=s.amount_micros,
                               occurred_at=now)]
    return [CreditReleased(org_id=org_id, reservation_id=reservation_id, amount_micros=s.amount_micros,
                           reason=reason, occurred_at=now)]


LedgerKind = Literal["grant", "debit", "refund"]


def ledger_entry(ev: Event) -> tuple[LedgerKind, int, str, str] | None:
    """The statement line an event makes: (kind, signed amount, reason, reference); a capture makes none
    (its debit was written when the credit was held)."""
    match ev:
        case CreditGranted():
            return "grant", ev.amount_micros, ev.reason, ""
        case CreditReserved():
            return "debit", -ev.amount_micros, ev.reason, ev.reference
    return None


def refund_entry(ev: CreditReleased, s: ReservationState) -> tuple[LedgerKind, int, str, str]:
    return "refund", ev.amount_micros, ev.reason or "refund", s.reference
