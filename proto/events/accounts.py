"""Events of the accounts domain (stream AM_ACCOUNTS, subjects am.accounts.<aggregate>.<event>.<org_id>).

Credential hashes never ride on events: they stay in the accounts schema, written in the same
transaction as the event that creates them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from proto.base import Event, Time


class _Accounts(Event, frozen=True, kw_only=True):
    DOMAIN: ClassVar[str] = "accounts"


class OrganizationCreated(_Accounts, frozen=True, kw_only=True):
    """An organization signed up, with its owner user. Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "organization"
    name: str
    owner_user_id: str
    owner_email: str


class ApiKeyCreated(_Accounts, frozen=True, kw_only=True):
    """An API key was issued (its hash is stored, never its secret). Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "api_key"
    key_id: str
    name: str
    prefix: str
    scopes: list[str] | None = None
    """None: every scope."""
    caps: dict[str, Any] | None = None
    """The key's caps (spend_per_day, sends_per_minute, sends_per_day, allowed_recipients,
    allowed_from, expires_at), as given."""


class ApiKeyRevoked(_Accounts, frozen=True, kw_only=True):
    """An API key stopped working; gateways drop it from their caches at once. Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "api_key"
    key_id: str
    key_hash_prefix: str = ""


class CreditGranted(_Accounts, frozen=True, kw_only=True):
    """Credit was added to an organization (the $5 signup grant, a top-up). Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "credit"
    entry_id: str
    amount_micros: int
    reason: str


class CreditReserved(_Accounts, frozen=True, kw_only=True):
    """Credit was held for work about to be accepted (a number, a message). Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "credit"
    reservation_id: str
    amount_micros: int
    reason: str
    reference: str = ""


class CreditCaptured(_Accounts, frozen=True, kw_only=True):
    """A reservation was spent: the work happened. Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "credit"
    reservation_id: str
    amount_micros: int


class CreditReleased(_Accounts, frozen=True, kw_only=True):
    """A reservation was refunded: the work never happened. Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "credit"
    reservation_id: str
    amount_micros: int
    reason: str


class SessionStarted(_Accounts, frozen=True, kw_only=True):
    """A user logged in to the dashboard (the token's hash stays in the accounts schema). Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "session"
    session_id: str
    user_id: str
    expires_at: Time


class SessionEnded(_Accounts, frozen=True, kw_only=True):
    """A dashboard session ended (logout, log out everywhere); gateways drop it from their caches at once.
    Emitted by accounts."""

    AGGREGATE: ClassVar[str] = "session"
    session_id: str
    user_id: str
    reason: str
