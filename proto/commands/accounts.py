"""Commands of the accounts domain (am.cmd.accounts.<command>)."""

from __future__ import annotations

import msgspec

from proto.base import Command


class Signup(Command, frozen=True, kw_only=True):
    email: str
    password: str
    organization_name: str


class ApiKeyView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    secret: str | None = None


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


class Authenticate(Command, frozen=True, kw_only=True):
    key_hash: str


class Principal(msgspec.Struct, kw_only=True):
    org_id: str
    key_id: str


class CreateKey(Command, frozen=True, kw_only=True):
    org_id: str
    name: str


class ListKeys(Command, frozen=True, kw_only=True):
    org_id: str
    limit: int = 20
    cursor: str | None = None


class KeyPage(msgspec.Struct, kw_only=True):
    data: list[ApiKeyView]
    next_cursor: str | None = None


class RevokeKey(Command, frozen=True, kw_only=True):
    org_id: str
    key_id: str


class GetBalance(Command, frozen=True, kw_only=True):
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


class ReserveCredit(Command, frozen=True, kw_only=True):
    """Hold credit before work is accepted. Idempotent on reservation_id."""

    org_id: str
    reservation_id: str
    amount_micros: int
    reason: str
    reference: str = ""


class SettleCredit(Command, frozen=True, kw_only=True):
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
