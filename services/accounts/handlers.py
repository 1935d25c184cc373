"""accounts command handlers: validate → decide → append events and update read models in one
transaction."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import asyncpg
import msgspec

from libs.store.eventstore import ConcurrencyError, EventStore
from proto.api import format_money, page_after, time_cursor
from proto.base import CommandError, derived_id, new_id, parse_time, parse_uuid, rfc3339, utcnow
from proto.commands import accounts as c
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
from services.accounts import model
from services.accounts.config import AccountsSettings


def _caps(raw: str | None) -> c.KeyCaps | None:
    return msgspec.json.decode(raw, type=c.KeyCaps) if raw else None


def _key_view(row: asyncpg.Record) -> c.ApiKeyView:
    """A key as every later answer shows it: never with its secret."""
    return c.ApiKeyView(id=row["id"], name=row["name"], prefix=row["prefix"], created_at=rfc3339(row["created_at"]),
                        last_used_at=rfc3339(row["last_used_at"]) if row["last_used_at"] else None,
                        revoked_at=rfc3339(row["revoked_at"]) if row["revoked_at"] else None)


class Accounts:
    def __init__(self, store: EventStore, settings: AccountsSettings):
        self.store = store
        self.settings = settings
        self._touched: dict[str, float] = {}

    async def signup(self, cmd: c.Signup) -> c.SignupOutcome:
        email = model.validate_signup(cmd.email, cmd.password_hash, cmd.organization_name)
        model.check_key_fields(cmd.key_hash, cmd.key_prefix)
        password_hash = cmd.password_hash
        org_id = new_id()
        if cmd.org_id is not None:
            chosen = parse_uuid(cmd.org_id)
            if chosen is None:
                raise CommandError("VALIDATION_ERROR", "org_id: must be a UUID", 400, {"field": "org_id"})
            org_id = chosen
            again = await self._signed_up(org_id, email)
            if again is not None:
                return c.SignupOutcome(result=again, created=False)
        if cmd.org_id is not None:  # every part of it follows from the chosen id: a retry names the same ones
            user_id, key_id, grant_id = (derived_id(org_id, p) for p in ("user", "api_key", "credit_grant"))
        else:
            user_id, key_id, grant_id = new_id(), new_id(), new_id()
        now = utcnow()
        name = cmd.organization_name.strip()
        try:
            async with self.store.transaction() as conn:
                if await conn.fetchval("SELECT 1 FROM users WHERE email = $1", email):
                    raise CommandError("EMAIL_TAKEN", "an account with this email already exists", 409,
                                       {"field": "email"})
                await conn.execute("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)",
                                   org_id, name, now)
                await conn.execute(
                    "INSERT INTO users (id, org_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                    user_id, org_id, email, password_hash, now,
                )
                await self.store.append(conn, f"organization-{org_id}", 0, [
                    OrganizationCreated(org_id=org_id, name=name, owner_user_id=user_id, owner_email=email,
                                        occurred_at=now)
                ])
                await self._insert_key(conn, org_id, key_id, "default", cmd.key_hash, cmd.key_prefix, now)
                amount = self.settings.signup_credit_micros
                await conn.execute("INSERT INTO balances (org_id, available_micros) VALUES ($1, $2)", org_id,
                                   amount)
                await self._ledger(conn, grant_id, org_id, "grant", amount, "signup credit", "", now)
                await self.store.append(conn, f"credit-grant-{grant_id}", 0, [
                    CreditGranted(org_id=org_id, entry_id=grant_id, amount_micros=amount, reason="signup credit",
                                  occurred_at=now)
                ])
        except (asyncpg.UniqueViolationError, ConcurrencyError) as exc:
            if cmd.org_id is not None:  # the same signup, concurrently: answer with the one that won
                again = await self._signed_up(org_id, email)
                if again is not None:
                    return c.SignupOutcome(result=again, created=False)
            raise CommandError("EMAIL_TAKEN", "an account with this email already exists", 409,
                               {"field": "email"}) from exc
        return c.SignupOutcome(result=c.SignupResult(
            organization=c.OrganizationView(id=org_id, name=name, created_at=rfc3339(now)),
            user=c.UserView(id=user_id, email=email),
            api_key=c.ApiKeyView(id=key_id, name="default", prefix=cmd.key_prefix, created_at=rfc3339(now)),
            balance=format_money(amount),
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
        key = await pool.fetchrow("SELECT id::text, name, prefix, created_at, last_used_at, revoked_at FROM api_keys"
                                  " WHERE id = $1", derived_id(org_id, "api_key"))
        grant = await pool.fetchval("SELECT amount_micros FROM ledger WHERE id = $1", derived_id(org_id, "credit_grant"))
        return c.SignupResult(
            organization=c.OrganizationView(id=org["id"], name=org["name"], created_at=rfc3339(org["created_at"])),
            user=c.UserView(id=user["id"], email=user["email"]),
            api_key=_key_view(key) if key is not None else c.ApiKeyView(id="", name="default", prefix="",
                                                                       created_at=rfc3339(org["created_at"])),
            balance=format_money(grant or 0),
        )

    async def _insert_key(self, conn: asyncpg.Connection, org_id: str, key_id: str, name: str, key_hash: str,
                          prefix: str, now: datetime, scopes: list[str] | None = None,
                          caps: c.KeyCaps | None = None) -> None:
        caps_map = msgspec.to_builtins(caps) if caps is not None else None
        expires = parse_time(caps.expires_at, "caps.expires_at") if caps and caps.expires_at else None
        await conn.execute(
            "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_at, scopes, caps, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)",
            key_id, org_id, name, prefix, key_hash, now, scopes,
            msgspec.json.encode(caps_map).decode() if caps_map is not None else None, expires,
        )
        await self.store.append(conn, f"api_key-{key_id}", 0, [
            ApiKeyCreated(org_id=org_id, key_id=key_id, name=name, prefix=prefix, scopes=scopes, caps=caps_map,
                          occurred_at=now)
        ])

    async def authenticate(self, cmd: c.Authenticate) -> c.Principal:
        row = await self.store.pool.fetchrow(
            "SELECT id::text, org_id::text, scopes, caps::text AS caps, expires_at <= now() AS expired"
            " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", cmd.key_hash
        )
        if row is None:
            raise CommandError("UNAUTHORIZED", "missing, malformed, unknown or revoked API key", 401)
        if row["expired"]:
            raise CommandError("UNAUTHORIZED", "this API key has expired", 401, {"reason": "expired"})
        key_id = row["id"]
        now = time.monotonic()
        if now - self._touched.get(key_id, 0.0) > self.settings.key_touch_interval_s:
            self._touched[key_id] = now
            await self.store.pool.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", key_id)
        return c.Principal(org_id=row["org_id"], key_id=key_id,
                           scopes=list(row["scopes"]) if row["scopes"] is not None else None,
                           caps=_caps(row["caps"]))

    async def create_key(self, cmd: c.CreateKey) -> c.KeyCreated:
        name = cmd.name.strip()
        if not name or len(name) > 100:
            raise CommandError("VALIDATION_ERROR", "name: must be 1 to 100 characters", 400, {"field": "name"})
        model.check_key_fields(cmd.key_hash, cmd.prefix)
        key_id = new_id()
        if cmd.key_id is not None:
            chosen = parse_uuid(cmd.key_id)
            if chosen is None:
                raise CommandError("VALIDATION_ERROR", "key_id: must be a UUID", 400, {"field": "key_id"})
            key_id = chosen
            again = await self._key(cmd.org_id, key_id)
            if again is not None:
                return c.KeyCreated(key=again, created=False)
        now = utcnow()
        try:
            async with self.store.transaction() as conn:
                await self._insert_key(conn, cmd.org_id, key_id, name, cmd.key_hash, cmd.prefix, now, cmd.scopes,
                                       cmd.caps)
        except (asyncpg.UniqueViolationError, ConcurrencyError):
            again = await self._key(cmd.org_id, key_id) if cmd.key_id is not None else None
            if again is None:
                raise
            return c.KeyCreated(key=again, created=False)  # the same request, concurrently: never its secret
        return c.KeyCreated(key=c.ApiKeyView(id=key_id, name=name, prefix=cmd.prefix, created_at=rfc3339(now),
                                             scopes=cmd.scopes, caps=cmd.caps,
                                             expires_at=cmd.caps.expires_at if cmd.caps else None),
                            created=True)

    async def _key(self, org_id: str, key_id: str) -> c.ApiKeyView | None:
        row = await self.store.pool.fetchrow(
            "SELECT id::text, org_id::text, name, prefix, created_at, last_used_at, revoked_at FROM api_keys"
            " WHERE id = $1", key_id)
        if row is None:
            return None
        if row["org_id"] != org_id:
            raise CommandError("CONFLICT", "key_id: already used", 409, {"field": "key_id"})
        return _key_view(row)

    async def list_keys(self, cmd: c.ListKeys) -> c.KeyPage:
        ts, ident = page_after(cmd.cursor)
        rows = await self.store.pool.fetch(
            "SELECT id::text, name, prefix, created_at, last_used_at, revoked_at, scopes, caps::text AS caps,"
            " expires_at FROM api_keys"
            " WHERE org_id = $1 AND revoked_at IS NULL"
            " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
            " ORDER BY created_at DESC, id DESC LIMIT $4",
            cmd.org_id, ts, ident, cmd.limit + 1,
        )
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        data = [
            c.ApiKeyView(id=r["id"], name=r["name"], prefix=r["prefix"], created_at=rfc3339(r["created_at"]),
                         last_used_at=rfc3339(r["last_used_at"]) if r["last_used_at"] else None,
                         scopes=list(r["scopes"]) if r["scopes"] is not None else None, caps=_caps(r["caps"]),
                         expires_at=rfc3339(r["expires_at"]) if r["expires_at"] else None)
            for r in rows
        ]
        nxt = time_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
        return c.KeyPage(data=data, next_cursor=nxt)

    async def revoke_key(self, cmd: c.RevokeKey) -> c.ApiKeyView:
        async with self.store.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1::uuid AND org_id = $2 AND revoked_at IS NULL"
                " RETURNING id::text, name, prefix, created_at, revoked_at",
                parse_uuid(cmd.key_id), cmd.org_id,
            )
            if row is None:
                raise CommandError("NOT_FOUND", "API key not found", 404)
            _, version = await self.store.load(conn, f"api_key-{cmd.key_id}")
            await self.store.append(conn, f"api_key-{cmd.key_id}", version, [
                ApiKeyRevoked(org_id=cmd.org_id, key_id=cmd.key_id)
            ])
        return c.ApiKeyView(id=row["id"], name=row["name"], prefix=row["prefix"],
                            created_at=rfc3339(row["created_at"]), revoked_at=rfc3339(row["revoked_at"]))

    async def login_credentials(self, cmd: c.GetLoginCredentials) -> c.LoginCredentials:
        row = await self.store.pool.fetchrow(
            "SELECT id::text, org_id::text, email, password_hash FROM users WHERE email = $1",
            cmd.email.strip().lower())
        if row is None:
            raise CommandError("NOT_FOUND", "no such user", 404)
        return c.LoginCredentials(user_id=row["id"], org_id=row["org_id"], email=row["email"],
                                  password_hash=row["password_hash"])

    _SESSION_COLS = ("s.id::text AS id, s.user_id::text AS user_id, s.org_id::text AS org_id, u.email,"
                     " o.name AS org_name, s.created_at, s.expires_at, s.ended_at, s.user_agent")

    @staticmethod
    def _session_view(r: asyncpg.Record) -> c.SessionView:
        return c.SessionView(id=r["id"], user_id=r["user_id"], org_id=r["org_id"], email=r["email"],
                             organization_name=r["org_name"], created_at=rfc3339(r["created_at"]),
                             expires_at=rfc3339(r["expires_at"]),
                             ended_at=rfc3339(r["ended_at"]) if r["ended_at"] else None, user_agent=r["user_agent"])

    async def start_session(self, cmd: c.StartSession) -> c.SessionView:
        if not 60 <= cmd.ttl_s <= 90 * 86400:
            raise CommandError("VALIDATION_ERROR", "ttl_s: must be 60 s to 90 days", 400, {"field": "ttl_s"})
        session_id, now = new_id(), utcnow()
        expires = now + timedelta(seconds=cmd.ttl_s)
        async with self.store.transaction() as conn:
            user = await conn.fetchval("SELECT 1 FROM users WHERE id = $1::uuid AND org_id = $2::uuid",
                                       parse_uuid(cmd.user_id), parse_uuid(cmd.org_id))
            if user is None:
                raise CommandError("NOT_FOUND", "user not found", 404)
            await conn.execute(
                "INSERT INTO sessions (id, org_id, user_id, token_hash, user_agent, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                session_id, cmd.org_id, cmd.user_id, cmd.token_hash, cmd.user_agent[:512], now, expires)
            await self.store.append(conn, f"session-{session_id}", 0, [
                SessionStarted(org_id=cmd.org_id, session_id=session_id, user_id=cmd.user_id,
                               expires_at=rfc3339(expires), occurred_at=now)])
            row = await conn.fetchrow(
                f"SELECT {self._SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id"
                " JOIN organizations o ON o.id = s.org_id WHERE s.id = $1", session_id)
        return self._session_view(row)

    async def authenticate_session(self, cmd: c.AuthenticateSession) -> c.SessionView:
        row = await self.store.pool.fetchrow(
            f"SELECT {self._SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id"
            " JOIN organizations o ON o.id = s.org_id"
            " WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()", cmd.token_hash)
        if row is None:
            raise CommandError("UNAUTHORIZED", "no session, or it ended or expired; log in again", 401)
        return self._session_view(row)

    async def list_sessions(self, cmd: c.ListSessions) -> c.SessionList:
        user_id = parse_uuid(cmd.user_id) if cmd.user_id is not None else None
        if cmd.user_id is not None and user_id is None:
            return c.SessionList(data=[])
        rows = await self.store.pool.fetch(
            f"SELECT {self._SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id"
            " JOIN organizations o ON o.id = s.org_id"
            " WHERE s.org_id = $1::uuid AND ($2::uuid IS NULL OR s.user_id = $2::uuid)"
            " AND s.ended_at IS NULL AND s.expires_at > now() ORDER BY s.created_at DESC LIMIT 100",
            parse_uuid(cmd.org_id), user_id)
        return c.SessionList(data=[self._session_view(r) for r in rows])

    async def end_session(self, cmd: c.EndSession) -> c.EndedSessions:
        session_id = parse_uuid(cmd.session_id)
        if session_id is None:
            raise CommandError("NOT_FOUND", "session not found", 404)
        return await self._end(cmd.org_id, "s.id = $3::uuid", session_id, cmd.reason)

    async def end_sessions(self, cmd: c.EndSessions) -> c.EndedSessions:
        if cmd.user_id is None:  # every session of the organization
            return await self._end(cmd.org_id, "$3::text IS NULL", None, cmd.reason)
        user_id = parse_uuid(cmd.user_id)
        if user_id is None:
            raise CommandError("NOT_FOUND", "user not found", 404)
        return await self._end(cmd.org_id, "s.user_id = $3::uuid", user_id, cmd.reason)

    async def _end(self, org_id: str, where: str, arg: str | None, reason: str) -> c.EndedSessions:
        """Ends the organization's live sessions matching ``where`` (on ``$3``): SessionEnded for each,
        in the transaction that marks them ended."""
        now = utcnow()
        async with self.store.transaction() as conn:
            rows = await conn.fetch(
                f"UPDATE sessions s SET ended_at = $2 WHERE s.org_id = $1::uuid AND {where}"
                " AND s.ended_at IS NULL RETURNING s.id::text AS id, s.user_id::text AS user_id",
                parse_uuid(org_id), now, arg)
            for r in rows:
                stream = f"session-{r['id']}"
                _, version = await self.store.load(conn, stream)
                await self.store.append(conn, stream, version, [
                    SessionEnded(org_id=org_id, session_id=r["id"], user_id=r["user_id"], reason=reason,
                                 occurred_at=now)])
        return c.EndedSessions(ended=len(rows), session_ids=[r["id"] for r in rows])

    async def balance(self, cmd: c.GetBalance) -> c.BalanceView:
        ts, ident = page_after(cmd.cursor)
        pool = self.store.pool
        available = await pool.fetchval("SELECT available_micros FROM balances WHERE org_id = $1", cmd.org_id)
        rows = await pool.fetch(
            "SELECT id::text, kind, amount_micros, reason, reference, created_at FROM ledger WHERE org_id = $1"
            " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
            " ORDER BY created_at DESC, id DESC LIMIT $4",
            cmd.org_id, ts, ident, cmd.limit + 1,
        )
        more = len(rows) > cmd.limit
        rows = rows[: cmd.limit]
        return c.BalanceView(
            balance=format_money(available or 0),
            currency="USD",
            entries=[
                c.LedgerEntry(id=r["id"], kind=r["kind"], amount=format_money(r["amount_micros"]),
                              reason=r["reason"], reference=r["reference"], created_at=rfc3339(r["created_at"]))
                for r in rows
            ],
            next_cursor=time_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
        )

    async def reserve(self, cmd: c.ReserveCredit) -> c.Reservation:
        """Hold credit. The conditional UPDATE serialises concurrent spenders without conflicts, and
        the reservation id (its own stream, version 1) makes a retried command a no-op."""
        if cmd.amount_micros < 0:
            raise CommandError("VALIDATION_ERROR", "amount must not be negative", 400)
        now = utcnow()
        pool = self.store.pool
        existing = await self._reservation(cmd)
        if existing is not None:
            return existing
        ev = CreditReserved(org_id=cmd.org_id, reservation_id=cmd.reservation_id, amount_micros=cmd.amount_micros,
                            reason=cmd.reason, reference=cmd.reference, occurred_at=now)
        append, ev_args = self.store.append_cte(f"reservation-{cmd.reservation_id}", 1, ev, 8, "bal")
        # One statement, its own transaction: the balance row is locked for one round trip only, so
        # one organization's concurrent sends are not queued behind each other's BEGIN … COMMIT.
        try:
            bal = await pool.fetchval(
                "WITH bal AS (UPDATE balances SET available_micros = available_micros - $3"
                "  WHERE org_id = $2 AND available_micros >= $3 RETURNING available_micros),"
                " res AS (INSERT INTO reservations (id, org_id, amount_micros, state, reason, reference, created_at)"
                "  SELECT $1, $2, $3, 'held', $4, $5, $6 FROM bal RETURNING 1),"
                " led AS (INSERT INTO ledger (id, org_id, kind, amount_micros, reason, reference, created_at)"
                "  SELECT $7::uuid, $2, 'debit', -$3::bigint, $4, $5, $6 FROM bal RETURNING 1),"
                f" ev AS ({append})"
                f" SELECT (SELECT available_micros FROM bal), {self.store.notify_sql(16)}",
                cmd.reservation_id, cmd.org_id, cmd.amount_micros, cmd.reason, cmd.reference, now, new_id(),
                *ev_args, self.store.notify_channel(),
            )
        except asyncpg.UniqueViolationError:  # the same reservation, concurrently: that one holds it
            again = await self._reservation(cmd)
            if again is None:
                raise CommandError("RESERVATION_ID_TAKEN", "this reservation id is already in use", 409) from None
            return again
        if bal is None:
            current = await pool.fetchval("SELECT available_micros FROM balances WHERE org_id = $1", cmd.org_id)
            model.check_reserve(current or 0, cmd.amount_micros)
            raise CommandError("INSUFFICIENT_CREDIT", "not enough credit", 402)
        self.store.appended(1)
        self.store.committed()
        return c.Reservation(reservation_id=cmd.reservation_id, amount_micros=cmd.amount_micros, state="held",
                             balance_micros=bal)

    async def reserve_many(self, cmd: c.ReserveCredits) -> c.ReservationOutcomes:
        """``reserve`` for many at once. When every organization in the batch can pay for all of its
        items, one statement holds them all (balances, reservations, ledger, events); whatever that
        cannot answer — a retried id (the statement fails, nothing written), a duplicate within the
        batch, an organization short of credit, a malformed item — goes through ``reserve`` one by one,
        so every answer is the one ``reserve`` would give alone."""
        items = cmd.reservations
        out: list[c.ReservationOutcome | None] = [None] * len(items)
        seen: set[str] = set()
        fast: list[int] = []
        for i, x in enumerate(items):
            if x.reservation_id not in seen and x.amount_micros >= 0 and parse_uuid(x.org_id) == x.org_id:
                fast.append(i)
            seen.add(x.reservation_id)
        if fast:
            try:
                paid = await self._reserve_together([items[i] for i in fast])
            except asyncpg.UniqueViolationError:  # one of them is a retry (its id is held): one by one
                paid = {}
            for i in fast:
                x = items[i]
                if x.org_id in paid:
                    out[i] = c.ReservationOutcome(reservation=c.Reservation(
                        reservation_id=x.reservation_id, amount_micros=x.amount_micros, state="held",
                        balance_micros=paid[x.org_id]))
        for i, x in enumerate(items):
            if out[i] is None:
                try:
                    out[i] = c.ReservationOutcome(reservation=await self.reserve(x))
                except CommandError as exc:
                    out[i] = c.ReservationOutcome(error=exc.body())
        return c.ReservationOutcomes(results=[o for o in out if o is not None])

    async def _reserve_together(self, items: list[c.ReserveCredit]) -> dict[str, int]:
        """One statement: each organization's items are held only if its balance covers all of them.
        Answers the organizations that paid, with their balance after."""
        now = utcnow()
        events = [(f"reservation-{x.reservation_id}", 1, CreditReserved(
            org_id=x.org_id, reservation_id=x.reservation_id, amount_micros=x.amount_micros, reason=x.reason,
            reference=x.reference, occurred_at=now)) for x in items]
        append, ev_args = self.store.append_rows_cte(events, 8, "WHERE u.o::uuid IN (SELECT org_id FROM bal)")
        rows = await self.store.pool.fetch(
            "WITH req AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::text[],"
            "  $6::uuid[]) AS r(id, org_id, amount, reason, reference, ledger_id)),"
            " tot AS (SELECT org_id, sum(amount)::bigint AS total FROM req GROUP BY org_id),"
            " bal AS (UPDATE balances b SET available_micros = b.available_micros - tot.total FROM tot"
            "  WHERE b.org_id = tot.org_id AND b.available_micros >= tot.total"
            "  RETURNING b.org_id, b.available_micros),"
            " res AS (INSERT INTO reservations (id, org_id, amount_micros, state, reason, reference, created_at)"
            "  SELECT id, org_id, amount, 'held', reason, reference, $7 FROM req WHERE org_id IN (SELECT org_id FROM bal)"
            "  RETURNING 1),"
            " led AS (INSERT INTO ledger (id, org_id, kind, amount_micros, reason, reference, created_at)"
            "  SELECT ledger_id, org_id, 'debit', -amount, reason, reference, $7 FROM req"
            "  WHERE org_id IN (SELECT org_id FROM bal) RETURNING 1),"
            f" ev AS ({append})"
            f" SELECT org_id::text AS org_id, available_micros, {self.store.notify_sql(16)} AS woken FROM bal",
            [x.reservation_id for x in items], [x.org_id for x in items], [x.amount_micros for x in items],
            [x.reason for x in items], [x.reference for x in items], [new_id() for _ in items], now,
            *ev_args, self.store.notify_channel(),
        )
        paid = {r["org_id"]: r["available_micros"] for r in rows}
        if paid:
            self.store.appended(sum(1 for x in items if x.org_id in paid))
            self.store.committed()
        return paid

    async def _reservation(self, cmd: c.ReserveCredit) -> c.Reservation | None:
        """A retried command answers with the reservation it made."""
        row = await self.store.pool.fetchrow(
            "SELECT r.amount_micros, r.state, b.available_micros FROM reservations r"
            " LEFT JOIN balances b ON b.org_id = r.org_id WHERE r.id = $1 AND r.org_id = $2",
            cmd.reservation_id, cmd.org_id)
        if row is None:
            return None
        return c.Reservation(reservation_id=cmd.reservation_id, amount_micros=row["amount_micros"],
                             state=row["state"], balance_micros=row["available_micros"] or 0)

    async def settle(self, cmd: c.SettleCredit) -> c.Reservation:
        async with self.store.transaction() as conn:
            return await self.settle_in(conn, cmd)

    async def settle_in(self, conn: asyncpg.Connection, cmd: c.SettleCredit) -> c.Reservation:
        """Capture or release a held reservation; anything but ``held`` is already settled (no-op)."""
        now = utcnow()
        row = await conn.fetchrow(
            "SELECT amount_micros, state, reference FROM reservations WHERE id = $1 AND org_id = $2 FOR UPDATE",
            cmd.reservation_id, cmd.org_id,
        )
        if row is None:
            raise CommandError("NOT_FOUND", "reservation not found", 404)
        amount = row["amount_micros"]
        state = row["state"]
        if state == "held":
            state = "captured" if cmd.capture else "released"
            await conn.execute("UPDATE reservations SET state = $2 WHERE id = $1", cmd.reservation_id, state)
            stream = f"reservation-{cmd.reservation_id}"
            _, version = await self.store.load(conn, stream)
            ev: CreditCaptured | CreditReleased
            if cmd.capture:
                ev = CreditCaptured(org_id=cmd.org_id, reservation_id=cmd.reservation_id, amount_micros=amount)
            else:
                await conn.execute(
                    "UPDATE balances SET available_micros = available_micros + $2 WHERE org_id = $1",
                    cmd.org_id, amount,
                )
                await self._ledger(conn, new_id(), cmd.org_id, "refund", amount, cmd.reason or "refund",
                                   row["reference"], now)
                ev = CreditReleased(org_id=cmd.org_id, reservation_id=cmd.reservation_id, amount_micros=amount,
                                    reason=cmd.reason)
            await self.store.append(conn, stream, version, [ev])
        bal = await conn.fetchval("SELECT available_micros FROM balances WHERE org_id = $1", cmd.org_id)
        return c.Reservation(reservation_id=cmd.reservation_id, amount_micros=amount, state=state,
                             balance_micros=bal or 0)

    async def capture_many(self, consumer: str, items: list[tuple[str, c.SettleCredit]]) -> set[str]:
        """``settle_in`` of many captures (``capture=True``, distinct reservations) in one transaction,
        each recorded as handled by ``consumer`` under its event id, as that consumer's one-by-one path
        does. Answers the event ids handled; an item whose reservation belongs to another organization
        is left out (and not recorded), for the one-by-one path to refuse."""
        assert all(cmd.capture for _, cmd in items)
        async with self.store.transaction() as conn:
            found = {r["id"]: r for r in await conn.fetch(
                "SELECT id, org_id::text AS org_id, state, amount_micros FROM reservations WHERE id = ANY($1::text[])"
                " ORDER BY id FOR UPDATE", [cmd.reservation_id for _, cmd in items])}
            ours = [(eid, cmd) for eid, cmd in items
                    if cmd.reservation_id not in found or found[cmd.reservation_id]["org_id"] == cmd.org_id]
            first = {r["event_id"] for r in await conn.fetch(
                "INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])"
                " ON CONFLICT DO NOTHING RETURNING event_id::text AS event_id", consumer, [eid for eid, _ in ours])}
            held = [cmd for eid, cmd in ours if eid in first and cmd.reservation_id in found
                    and found[cmd.reservation_id]["state"] == "held"]
            if held:
                streams = [f"reservation-{cmd.reservation_id}" for cmd in held]
                await conn.execute("UPDATE reservations SET state = 'captured' WHERE id = ANY($1::text[])",
                                   [cmd.reservation_id for cmd in held])
                versions = {r["stream_id"]: r["v"] for r in await conn.fetch(
                    "SELECT stream_id, max(version) AS v FROM events WHERE stream_id = ANY($1::text[])"
                    " GROUP BY stream_id", streams)}
                await self.store.append_streams(conn, [(stream, versions.get(stream, 0), CreditCaptured(
                    org_id=cmd.org_id, reservation_id=cmd.reservation_id,
                    amount_micros=found[cmd.reservation_id]["amount_micros"])) for stream, cmd in zip(
                        streams, held, strict=True)])
        return {eid for eid, _ in ours}

    async def _ledger(self, conn: asyncpg.Connection, entry_id: str, org_id: str, kind: str, amount: int,
                      reason: str, reference: str, now: datetime) -> None:
        await conn.execute(
            "INSERT INTO ledger (id, org_id, kind, amount_micros, reason, reference, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            entry_id, org_id, kind, amount, reason, reference, now,
        )

