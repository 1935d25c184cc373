"""Commands of the accounts domain (am.cmd.accounts.<command>)."""

from __future__ import annotations

import msgspec

from proto.base import Command, ErrorBody, Time


class Signup(Command["SignupOutcome"], frozen=True, kw_only=True):
    """No secret travels on the bus: the gateway hashes the password (argon2id) and makes the first API
    key itself, sending only the key's SHA-256 and its display prefix."""

    email: str
    password_hash: str
    """argon2id hash of the password, made by the gateway (``$argon2id$...``)."""
    organization_name: str
    key_hash: str
    """SHA-256 (hex) of the first API key's secret, which only the gateway and the client ever see."""
    key_prefix: str
    """The key's display prefix (``am_live_`` and 4 characters)."""
    org_id: str | None = None
    """Caller-chosen organization id (the gateway derives it from an Idempotency-Key): a signup repeated
    with the same id and email answers with the organization it created, its key's secret not shown again."""


class KeyCaps(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Limits on what one API key may do, checked at the gateway before any side effect. Each is
    optional; a key without caps is limited only by its organization's credit and the rate limit."""

    spend_per_day: str | None = None
    """USD (decimal string) this key may spend on sends per UTC day."""
    sends_per_minute: int | None = None
    """Sends accepted per UTC clock minute."""
    sends_per_day: int | None = None
    """Sends accepted per UTC day."""
    allowed_recipients: list[str] | None = None
    """E.164 numbers or prefixes (``+1415``) this key may text; others answer 403 RECIPIENT_NOT_ALLOWED."""
    allowed_from: list[str] | None = None
    """E.164 numbers or prefixes this key may send from."""
    expires_at: str | None = None
    """RFC 3339; after it the key answers 401."""


class KeyUsage(msgspec.Struct, kw_only=True):
    """What a key did in the current UTC minute and day (counted at the gateway, shared by replicas)."""

    sends_this_minute: int = 0
    sends_today: int = 0
    spend_today: str = "0.0000"


class ApiKeyView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    secret: str | None = None
    scopes: list[str] | None = None
    """What the key may do; null is every scope (keys made before scopes existed, and signup's key)."""
    caps: KeyCaps | None = None
    expires_at: str | None = None
    usage: KeyUsage | None = None


class OrganizationView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    created_at: str


class UserView(msgspec.Struct, kw_only=True):
    id: str
    email: str


class SignupResult(msgspec.Struct, kw_only=True):
    organization: OrganizationView
    user: UserView
    api_key: ApiKeyView
    balance: str


class SignupOutcome(msgspec.Struct, kw_only=True):
    """accounts' answer to ``signup``: the gateway adds the key's secret (which only it knows) to
    ``result`` when ``created`` — never to a repeat that found the organization already made."""

    result: SignupResult
    created: bool = True


class Authenticate(Command["Principal"], frozen=True, kw_only=True):
    key_hash: str


class Principal(msgspec.Struct, kw_only=True):
    org_id: str
    key_id: str
    scopes: list[str] | None = None
    """None: every scope."""
    caps: KeyCaps | None = None
    expires_at: Time | None = None
    """When the key stops working (its caps' ``expires_at``, as a time): the gateway checks it on every
    request, for it may hold the principal past it."""


class CreateKey(Command["KeyCreated"], frozen=True, kw_only=True):
    """The gateway makes the secret; accounts stores its hash and prefix (the secret is never sent)."""

    org_id: str
    name: str
    key_hash: str
    """SHA-256 (hex) of the new key's secret."""
    prefix: str
    """The key's display prefix (``am_live_`` and 4 characters)."""
    scopes: list[str] | None = None
    """Already validated and expanded (presets) by the gateway; None is every scope."""
    caps: KeyCaps | None = None
    key_id: str | None = None
    """Caller-chosen key id (derived from an Idempotency-Key): repeated, it answers with the key it created,
    without the secret."""


class KeyCreated(msgspec.Struct, kw_only=True):
    """accounts' answer to ``create_key``: the gateway shows the secret it made only when ``created``
    (this request stored that key's hash), never for a key that existed already."""

    key: ApiKeyView
    created: bool = True


class ListKeys(Command["KeyPage"], frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None


class KeyPage(msgspec.Struct, kw_only=True):
    data: list[ApiKeyView]
    next_cursor: str | None = None


class RevokeKey(Command[ApiKeyView], frozen=True, kw_only=True):
    org_id: str
    key_id: str


class GetBalance(Command["BalanceView"], frozen=True, kw_only=True):
    NAME = "balance"
    org_id: str
    limit: int = 20
    cursor: str | None = None


class LedgerEntry(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    amount: str
    reason: str
    reference: str
    created_at: str


class BalanceView(msgspec.Struct, kw_only=True):
    balance: str
    currency: str
    entries: list[LedgerEntry]
    next_cursor: str | None = None


class ReserveCredit(Command["Reservation"], frozen=True, kw_only=True):
    """Hold credit before work is accepted. Idempotent on reservation_id."""

    org_id: str
    reservation_id: str
    amount_micros: int
    reason: str
    reference: str = ""


class SettleCredit(Command["Reservation"], frozen=True, kw_only=True):
    """Capture (the work happened) or release (it never did) a reservation. Idempotent."""

    org_id: str
    reservation_id: str
    capture: bool
    reason: str = ""


class Reservation(msgspec.Struct, kw_only=True):
    reservation_id: str
    amount_micros: int
    state: str
    balance_micros: int


class ListHeldReservations(Command["HeldReservations"], frozen=True, kw_only=True):
    """For the service that makes reservations of ``reason``, to reconcile them with its own records:
    those still held that were made between ``newer_than_s`` and ``older_than_s`` seconds ago, oldest
    first (at most ``limit``). Across organizations, like any sweep; no organization's client asks it."""

    reason: str
    older_than_s: float
    newer_than_s: float
    limit: int = 500


class HeldReservation(msgspec.Struct, kw_only=True):
    reservation_id: str
    org_id: str


class HeldReservations(msgspec.Struct, kw_only=True):
    items: list[HeldReservation]


class ReserveCredits(Command["ReservationOutcomes"], frozen=True, kw_only=True):
    """Many ``reserve_credit`` commands in one request (a sender's group commit); each is answered on
    its own, exactly as ``reserve_credit`` would answer it alone."""

    reservations: list[ReserveCredit]


class ReservationOutcome(msgspec.Struct, kw_only=True):
    """One answer of ``reserve_credits``: the reservation, or the error ``reserve_credit`` would raise."""

    reservation: Reservation | None = None
    error: ErrorBody | None = None


class ReservationOutcomes(msgspec.Struct, kw_only=True):
    results: list[ReservationOutcome]
    """In the order of the request's ``reservations``."""


class GetLoginCredentials(Command["LoginCredentials"], frozen=True, kw_only=True):
    """The stored argon2id hash of a user's password, by email, so the gateway verifies a login itself:
    a password never travels on NATS. An unknown email answers NOT_FOUND."""

    NAME = "login_credentials"
    email: str


class LoginCredentials(msgspec.Struct, kw_only=True):
    user_id: str
    org_id: str
    email: str
    password_hash: str
    """argon2id (``$argon2id$...``); verified by the gateway, never logged."""


class StartSession(Command["SessionView"], frozen=True, kw_only=True):
    """Record a dashboard session. The gateway made the token and sends only its SHA-256 (the token is
    high-entropy, like an API key); the hash stays in the accounts schema, never on an event."""

    org_id: str
    user_id: str
    token_hash: str
    ttl_s: int
    user_agent: str = ""


class SessionView(msgspec.Struct, kw_only=True):
    id: str
    user_id: str
    org_id: str
    email: str
    organization_name: str
    created_at: str
    expires_at: str
    ended_at: str | None = None
    user_agent: str = ""
    """The browser that logged in, as it named itself."""


class ListSessions(Command["SessionList"], frozen=True, kw_only=True):
    """The live sessions of a user (of the organization, without user_id), newest first."""

    org_id: str
    user_id: str | None = None


class SessionList(msgspec.Struct, kw_only=True):
    data: list[SessionView]


class AuthenticateSession(Command[SessionView], frozen=True, kw_only=True):
    """A live (not ended, not expired) session by the SHA-256 of its token; else UNAUTHORIZED."""

    token_hash: str


class EndSession(Command["EndedSessions"], frozen=True, kw_only=True):
    org_id: str
    session_id: str
    reason: str = "logout"


class EndSessions(Command["EndedSessions"], frozen=True, kw_only=True):
    """End every live session of a user ("log out everywhere"); without user_id, of the organization."""

    org_id: str
    user_id: str | None = None
    reason: str = "logout_everywhere"


class EndedSessions(msgspec.Struct, kw_only=True):
    ended: int
    session_ids: list[str]
