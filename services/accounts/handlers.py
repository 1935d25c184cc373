"""accounts command handlers for organizations, API keys and dashboard sessions: load → decide (model) →
append the events and project them into the tables, in one transaction. Credit is in ``credit.py``."""

from __future__ import annotations

import time

import asyncpg
import msgspec

from libs.store.eventstore import ConcurrencyError, EventStore
from proto.api import format_money
from proto.base import (
    CommandError,
    accepted,
    chosen_id,
    chosen_or_new_id,
    derived_id,
    new_id,
    parse_uuid,
    rfc3339,
    utcnow,
)
from proto.commands import accounts as c
from services.accounts import model, store
from services.accounts.config import AccountsSettings


class Accounts:
    def __init__(self, store_: EventStore, settings: AccountsSettings):
        self.store = store_
        self.settings = settings
        self._touched: dict[str, float] = {}

    # -- organizations -------------------------------------------------------------------------------
    async def signup(self, cmd: c.Signup) -> c.SignupOutcome:
        email = model.normal_email(cmd.email)
        bad = model.check_signup(email, cmd.password_hash, cmd.organization_name) or model.check_key_fields(
            cmd.key_hash, cmd.key_prefix)
        if bad is not None:
            raise bad
        if cmd.org_id is not None:  # every part of it follows from the chosen id: a retry names the same ones
            org_id = chosen_id(cmd.org_id, "org_id")
            again = await self._signed_up(org_id, email)
            if again is not None:
                return c.SignupOutcome(result=again, created=False)
            user_id, key_id, grant_id = (derived_id(org_id, p) for p in ("user", "api_key", "credit_grant"))
        else:
            org_id, user_id, key_id, grant_id = new_id(), new_id(), new_id(), new_id()
        s = model.Signup(org_id=org_id, user_id=user_id, key_id=key_id, grant_id=grant_id, email=email,
                         password_hash=cmd.password_hash, organization_name=cmd.organization_name,
                         key_hash=cmd.key_hash, key_prefix=cmd.key_prefix,
                         credit_micros=self.settings.signup_credit_micros, now=utcnow())
        try:
            async with self.store.transaction() as conn:
                events = accepted(model.decide_signup(await store.email_taken(conn, email), s))
                await store.record(self.store, conn, events,
                                   sealed=store.Sealed(password_hash=cmd.password_hash, key_hash=cmd.key_hash))
        except (asyncpg.UniqueViolationError, ConcurrencyError) as exc:
            if cmd.org_id is not None:  # the same signup, concurrently: answer with the one that won
                again = await self._signed_up(org_id, email)
                if again is not None:
                    return c.SignupOutcome(result=again, created=False)
            raise CommandError("EMAIL_TAKEN", "an account with this email already exists", 409,
                               {"field": "email"}) from exc
        return c.SignupOutcome(result=c.SignupResult(
            organization=c.OrganizationView(id=org_id, name=cmd.organization_name.strip(), created_at=rfc3339(s.now)),
            user=c.UserView(id=user_id, email=email),
            api_key=c.ApiKeyView(id=key_id, name="default", prefix=cmd.key_prefix, created_at=rfc3339(s.now)),
            balance=format_money(s.credit_micros),
        ), created=True)

    async def _signed_up(self, org_id: str, email: str) -> c.SignupResult | None:
        """The signup that created ``org_id``, as a repeat of it sees it: no secret; None when none did."""
        pool = self.store.pool
        org = await pool.fetchrow("SELECT id::text, name, created_at FROM organizations WHERE id = $1", org_id)
        if org is None:
            return None
        user = await pool.fetchrow("SELECT id::text, email FROM users WHERE org_id = $1 ORDER BY created_at LIMIT 1",
                                   org_id)
        if user is None or user["email"] != email:
            raise CommandError("CONFLICT", "this signup was already made with other details", 409)
        key = await store.key_row(pool, derived_id(org_id, "api_key"))
        grant = await pool.fetchval("SELECT amount_micros FROM ledger WHERE id = $1", derived_id(org_id, "credit_grant"))
        return c.SignupResult(
            organization=c.OrganizationView(id=org["id"], name=org["name"], created_at=rfc3339(org["created_at"])),
            user=c.UserView(id=user["id"], email=user["email"]),
            api_key=store.key_view(key) if key is not None else c.ApiKeyView(
                id="", name="default", prefix="", created_at=rfc3339(org["created_at"])),
            balance=format_money(grant or 0),
        )

    async def login_credentials(self, cmd: c.GetLoginCredentials) -> c.LoginCredentials:
        row = await store.login_row(self.store.pool, model.normal_email(cmd.email))
        if row is None:
            raise CommandError("NOT_FOUND", "no such user", 404)
        return c.LoginCredentials(user_id=row["id"], org_id=row["org_id"], email=row["email"],
                                  password_hash=row["password_hash"])

    # -- API keys ------------------------------------------------------------------------------------
    async def authenticate(self, cmd: c.Authenticate) -> c.Principal:
        """One indexed read of the keys' projection (the gateway caches the answer)."""
        row = await store.principal_row(self.store.pool, cmd.key_hash)
        if row is None:
            raise CommandError("UNAUTHORIZED", "missing, malformed, unknown or revoked API key", 401)
        if row["expired"]:
            raise CommandError("UNAUTHORIZED", "this API key has expired", 401, {"reason": "expired"})
        key_id = row["id"]
        now = time.monotonic()
        if now - self._touched.get(key_id, 0.0) > self.settings.key_touch_interval_s:
            self._touched[key_id] = now
            await store.touch_key(self.store.pool, key_id)
        return c.Principal(org_id=row["org_id"], key_id=key_id,
                           scopes=list(row["scopes"]) if row["scopes"] is not None else None,
                           caps=store.caps_of(row["caps"]), expires_at=row["expires_at"])

    async def create_key(self, cmd: c.CreateKey) -> c.KeyCreated:
        key_id = chosen_or_new_id(cmd.key_id, "key_id")
        k = model.NewKey(org_id=cmd.org_id, key_id=key_id, name=cmd.name, key_hash=cmd.key_hash, prefix=cmd.prefix,
                         scopes=cmd.scopes, caps=msgspec.to_builtins(cmd.caps) if cmd.caps is not None else None,
                         now=utcnow())
        try:
            async with self.store.transaction() as conn:
                events = accepted(model.decide_create_key(await store.key_state(conn, key_id), k))
                await store.record(self.store, conn, events, sealed=store.Sealed(key_hash=cmd.key_hash))
        except (asyncpg.UniqueViolationError, ConcurrencyError):
            if cmd.key_id is None:
                raise
            state = await store.key_state(self.store.pool, key_id)
            if state.org_id is None:  # not this request's key that got there first
                raise
            events = accepted(model.decide_create_key(state, k))  # the same request, concurrently: none
        if not events:  # a repeat: the key as it is, never its secret
            row = await store.key_row(self.store.pool, key_id)
            assert row is not None
            return c.KeyCreated(key=store.key_view(row), created=False)
        return c.KeyCreated(key=c.ApiKeyView(id=key_id, name=cmd.name.strip(), prefix=cmd.prefix,
                                             created_at=rfc3339(k.now), scopes=cmd.scopes, caps=cmd.caps,
                                             expires_at=cmd.caps.expires_at if cmd.caps else None),
                            created=True)

    async def list_keys(self, cmd: c.ListKeys) -> c.KeyPage:
        return await store.keys_page(self.store.pool, cmd)

    async def revoke_key(self, cmd: c.RevokeKey) -> c.ApiKeyView:
        async with self.store.transaction() as conn:
            s = await store.key_state(conn, cmd.key_id, lock=True)
            events = accepted(model.decide_revoke_key(s, cmd.org_id, cmd.key_id, utcnow()))
            await store.record(self.store, conn, events, s.version)
            row = await store.key_row(conn, cmd.key_id)
        assert row is not None
        return store.key_view(row)

    # -- dashboard sessions --------------------------------------------------------------------------
    async def start_session(self, cmd: c.StartSession) -> c.SessionView:
        session_id = new_id()
        async with self.store.transaction() as conn:
            known = await store.user_known(conn, cmd.org_id, cmd.user_id)
            events = accepted(model.decide_start_session(known, cmd.org_id, cmd.user_id, session_id, cmd.ttl_s,
                                                       utcnow()))
            await store.record(self.store, conn, events,
                               sealed=store.Sealed(token_hash=cmd.token_hash, user_agent=cmd.user_agent))
            return await store.session_by_id(conn, session_id)

    async def authenticate_session(self, cmd: c.AuthenticateSession) -> c.SessionView:
        row = await store.session_by_token(self.store.pool, cmd.token_hash)
        if row is None:
            raise CommandError("UNAUTHORIZED", "no session, or it ended or expired; log in again", 401)
        return store.session_view(row)

    async def list_sessions(self, cmd: c.ListSessions) -> c.SessionList:
        user_id = parse_uuid(cmd.user_id) if cmd.user_id is not None else None
        if cmd.user_id is not None and user_id is None:
            return c.SessionList(data=[])
        return c.SessionList(data=await store.sessions_of(self.store.pool, cmd.org_id, user_id))

    async def end_session(self, cmd: c.EndSession) -> c.EndedSessions:
        session_id = parse_uuid(cmd.session_id)
        if session_id is None:
            raise CommandError("NOT_FOUND", "session not found", 404)
        return await self._end(cmd.org_id, cmd.reason, session_id=session_id)

    async def end_sessions(self, cmd: c.EndSessions) -> c.EndedSessions:
        if cmd.user_id is None:  # every session of the organization
            return await self._end(cmd.org_id, cmd.reason)
        user_id = parse_uuid(cmd.user_id)
        if user_id is None:
            raise CommandError("NOT_FOUND", "user not found", 404)
        return await self._end(cmd.org_id, cmd.reason, user_id=user_id)

    async def _end(self, org_id: str, reason: str, session_id: str | None = None,
                   user_id: str | None = None) -> c.EndedSessions:
        """Ends the organization's live sessions (one, a user's, or all): SessionEnded for each."""
        now = utcnow()
        async with self.store.transaction() as conn:
            live = await store.live_sessions(conn, org_id, session_id, user_id)
            ended = [(s.version, ev) for sid, s in live
                     for ev in accepted(model.decide_end_session(s, sid, reason, now))]
            if ended:
                await store.record_each(self.store, conn, ended)
        return c.EndedSessions(ended=len(ended), session_ids=[sid for sid, _ in live])
