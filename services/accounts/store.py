"""The accounts service's SQL: loading aggregate states, appending their events with the tables projected
from them in the same transaction, and the read models' queries (keys, sessions, the ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec

from libs.store import Sql, Write, sql, table
from libs.store.eventstore import EventStore
from proto.api import page_after, page_cursor
from proto.base import Event, parse_time, parse_uuid, rfc3339
from proto.commands import accounts as c
from proto.events import accounts as E
from services.accounts.model import KeyState, ReservationState, SessionState, ledger_entry

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


def stream_of(ev: Event) -> str:
    """Each aggregate's stream: organization-, api_key-, session-, credit-grant- and reservation-<id>."""
    match ev:
        case E.OrganizationCreated():
            return f"organization-{ev.org_id}"
        case E.ApiKeyCreated() | E.ApiKeyRevoked():
            return f"api_key-{ev.key_id}"
        case E.SessionStarted() | E.SessionEnded():
            return f"session-{ev.session_id}"
        case E.CreditGranted():
            return f"credit-grant-{ev.entry_id}"
        case E.CreditReserved() | E.CreditCaptured() | E.CreditReleased():
            return f"reservation-{ev.reservation_id}"
    raise TypeError(f"not an accounts event: {type(ev).__name__}")


@dataclass(frozen=True)
class Sealed:
    """What is kept but never published: written beside the event that creates it."""

    password_hash: str = ""
    key_hash: str = ""
    token_hash: str = ""
    user_agent: str = ""


async def record(store: EventStore, conn: asyncpg.Connection | None, events: Sequence[Event], version: int = 0,
                 sealed: Sealed = Sealed()) -> None:
    """Append each event to its aggregate's stream and project it: one statement, in ``conn``'s transaction
    (or its own). ``version``: that of the first event's aggregate before it (the others are new: signup's)."""
    w = Write()
    for i, ev in enumerate(events):
        w.append(stream_of(ev), version if i == 0 else 0, [ev])
        for statement in project(ev, sealed):
            w.project(statement)
    await store.write(w, conn)


async def record_each(store: EventStore, conn: asyncpg.Connection, items: Sequence[tuple[int, Event]]) -> None:
    """One event each for several aggregates, ``(version before, event)``: one statement."""
    w = Write()
    for version, ev in items:
        w.append(stream_of(ev), version, [ev])
        for statement in project(ev, Sealed()):
            w.project(statement)
    await store.write(w, conn)


def project(ev: Event, sealed: Sealed) -> list[Sql]:
    """The tables as the event leaves them (statements of the write that appends it)."""
    match ev:
        case E.OrganizationCreated():
            return [sql("INSERT INTO organizations (id, name, created_at) VALUES (:org, :name, :at)", org=ev.org_id,
                        name=ev.name, at=ev.occurred_at),
                    sql("INSERT INTO users (id, org_id, email, password_hash, created_at)"
                        " VALUES (:id, :org, :email, :hash, :at)", id=ev.owner_user_id, org=ev.org_id,
                        email=ev.owner_email, hash=sealed.password_hash, at=ev.occurred_at)]
        case E.ApiKeyCreated():
            expires = (ev.caps or {}).get("expires_at")
            return [sql("INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_at, scopes, caps, expires_at)"
                        " VALUES (:id, :org, :name, :prefix, :hash, :at, :scopes, :caps::jsonb, :expires)",
                        id=ev.key_id, org=ev.org_id, name=ev.name, prefix=ev.prefix, hash=sealed.key_hash,
                        at=ev.occurred_at, scopes=ev.scopes,
                        caps=msgspec.json.encode(ev.caps).decode() if ev.caps is not None else None,
                        expires=parse_time(expires, "caps.expires_at") if expires else None)]
        case E.ApiKeyRevoked():
            return [sql("UPDATE api_keys SET revoked_at = :at WHERE id = :id AND org_id = :org", id=ev.key_id,
                        org=ev.org_id, at=ev.occurred_at)]
        case E.CreditGranted():
            return [sql("INSERT INTO balances (org_id, available_micros) VALUES (:org, :amount) ON CONFLICT (org_id)"
                        " DO UPDATE SET available_micros = balances.available_micros + :amount", org=ev.org_id,
                        amount=ev.amount_micros), _ledger(ev.entry_id, ev)]
        case E.CreditCaptured():
            return [sql("UPDATE reservations SET state = 'captured', version = version + 1 WHERE id = :id",
                        id=ev.reservation_id)]
        case E.CreditReleased():
            return [sql("UPDATE reservations SET state = 'released', version = version + 1 WHERE id = :id",
                        id=ev.reservation_id),
                    sql("UPDATE balances SET available_micros = available_micros + :amount WHERE org_id = :org",
                        org=ev.org_id, amount=ev.amount_micros),
                    sql("INSERT INTO ledger (id, org_id, kind, amount_micros, reason, reference, created_at)"
                        " SELECT :id, org_id, 'refund', :amount, :reason, reference, :at FROM reservations"
                        " WHERE id = :rid", id=ev.event_id, amount=ev.amount_micros, reason=ev.reason or "refund",
                        at=ev.occurred_at, rid=ev.reservation_id)]  # the refund names what it was for
        case E.SessionStarted():
            return [sql("INSERT INTO sessions (id, org_id, user_id, token_hash, user_agent, created_at, expires_at)"
                        " VALUES (:id, :org, :user, :hash, :agent, :at, :expires)", id=ev.session_id, org=ev.org_id,
                        user=ev.user_id, hash=sealed.token_hash, agent=sealed.user_agent[:512], at=ev.occurred_at,
                        expires=ev.expires_at)]
        case E.SessionEnded():
            return [sql("UPDATE sessions SET ended_at = :at WHERE id = :id", id=ev.session_id, at=ev.occurred_at)]
    raise TypeError(f"no projection for {type(ev).__name__}")


def _ledger(entry_id: str, ev: Event, source: str = "") -> Sql:
    """The event's statement line (``model.ledger_entry``); with ``source``, one line per row of that CTE."""
    entry = ledger_entry(ev)
    assert entry is not None
    kind, amount, reason, reference = entry
    rows = f"FROM {source}" if source else ""
    return sql("INSERT INTO ledger (id, org_id, kind, amount_micros, reason, reference, created_at)"
               f" SELECT :id::uuid, :org::uuid, :kind, :amount::bigint, :reason, :reference, :at::timestamptz {rows}",
               id=entry_id, org=ev.org_id, kind=kind, amount=amount, reason=reason, reference=reference,
               at=ev.occurred_at)


# -- loading states ------------------------------------------------------------------------------------
async def key_state(conn: Conn, key_id: str, lock: bool = False) -> KeyState:
    row = None if parse_uuid(key_id) is None else await conn.fetchrow(
        "SELECT org_id::text AS org_id, revoked_at FROM api_keys WHERE id = $1::uuid" + (" FOR UPDATE" if lock
                                                                                          else ""), parse_uuid(key_id))
    return KeyState() if row is None else KeyState(org_id=row["org_id"], revoked=row["revoked_at"] is not None)


async def reservation_state(conn: Conn, reservation_id: str, lock: bool = False) -> ReservationState | None:
    row = await conn.fetchrow("SELECT org_id::text AS org_id, amount_micros, state, reference, version"
                              " FROM reservations WHERE id = $1" + (" FOR UPDATE" if lock else ""), reservation_id)
    return None if row is None else reservation_of(row)


def reservation_of(row: asyncpg.Record) -> ReservationState:
    return ReservationState(org_id=row["org_id"], amount_micros=row["amount_micros"], status=row["state"],
                            reference=row["reference"], version=row["version"])


async def reservation_states(conn: asyncpg.Connection, ids: list[str]) -> dict[str, ReservationState]:
    """Many reservations, locked in one order (two batches cannot deadlock)."""
    rows = await conn.fetch("SELECT id, org_id::text AS org_id, amount_micros, state, reference, version"
                            " FROM reservations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", ids)
    return {r["id"]: reservation_of(r) for r in rows}


async def live_sessions(conn: asyncpg.Connection, org_id: str, session_id: str | None = None,
                        user_id: str | None = None) -> list[tuple[str, SessionState]]:
    """The organization's live sessions (one, one user's, or all), locked."""
    rows = await conn.fetch(
        "SELECT id::text AS id, user_id::text AS user_id FROM sessions WHERE org_id = $1::uuid AND ended_at IS NULL"
        " AND ($2::uuid IS NULL OR id = $2::uuid) AND ($3::uuid IS NULL OR user_id = $3::uuid) ORDER BY id"
        " FOR UPDATE", parse_uuid(org_id), session_id, user_id)
    return [(r["id"], SessionState(org_id=org_id, user_id=r["user_id"])) for r in rows]


async def balance(conn: Conn, org_id: str) -> int:
    return int(await conn.fetchval("SELECT available_micros FROM balances WHERE org_id = $1", org_id) or 0)


# -- read models ---------------------------------------------------------------------------------------
def caps_of(raw: str | None) -> c.KeyCaps | None:
    return msgspec.json.decode(raw, type=c.KeyCaps) if raw else None


def key_view(row: asyncpg.Record) -> c.ApiKeyView:
    """A key as every later answer shows it: never with its secret, always with its scopes and caps (a
    null ``scopes`` means every scope, so leaving them out would misstate what the key could do)."""
    return c.ApiKeyView(id=row["id"], name=row["name"], prefix=row["prefix"], created_at=rfc3339(row["created_at"]),
                        last_used_at=rfc3339(row["last_used_at"]) if row["last_used_at"] else None,
                        revoked_at=rfc3339(row["revoked_at"]) if row["revoked_at"] else None,
                        scopes=list(row["scopes"]) if row["scopes"] is not None else None, caps=caps_of(row["caps"]),
                        expires_at=rfc3339(row["expires_at"]) if row["expires_at"] else None)


_KEY_COLS = ("id::text, org_id::text, name, prefix, created_at, last_used_at, revoked_at, scopes,"
             " caps::text AS caps, expires_at")


async def key_row(conn: Conn, key_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_KEY_COLS} FROM api_keys WHERE id = $1", key_id)


async def principal_row(pool: asyncpg.Pool, key_hash: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT id::text, org_id::text, scopes, caps::text AS caps, expires_at, expires_at <= now() AS expired"
        " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash)


async def touch_key(pool: asyncpg.Pool, key_id: str) -> None:
    """last_used_at is a usage mark, not a fact of the key's life: no event."""
    await pool.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", key_id)


async def keys_page(pool: asyncpg.Pool, cmd: c.ListKeys) -> c.KeyPage:
    ts, ident = page_after(cmd.cursor)
    rows = await pool.fetch(
        "SELECT id::text, name, prefix, created_at, last_used_at, revoked_at, scopes, caps::text AS caps,"
        " expires_at FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $4", cmd.org_id, ts, ident, cmd.limit + 1)
    data = [c.ApiKeyView(id=r["id"], name=r["name"], prefix=r["prefix"], created_at=rfc3339(r["created_at"]),
                         last_used_at=rfc3339(r["last_used_at"]) if r["last_used_at"] else None,
                         scopes=list(r["scopes"]) if r["scopes"] is not None else None, caps=caps_of(r["caps"]),
                         expires_at=rfc3339(r["expires_at"]) if r["expires_at"] else None)
            for r in rows[: cmd.limit]]
    return c.KeyPage(data=data, next_cursor=page_cursor(rows, cmd.limit))


async def ledger_page(pool: asyncpg.Pool, org_id: str, limit: int, cursor: str | None) -> list[asyncpg.Record]:
    ts, ident = page_after(cursor)
    return list(await pool.fetch(
        "SELECT id::text, kind, amount_micros, reason, reference, created_at FROM ledger WHERE org_id = $1"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $4", org_id, ts, ident, limit + 1))


async def email_taken(conn: Conn, email: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM users WHERE email = $1", email))


async def user_known(conn: Conn, org_id: str, user_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM users WHERE id = $1::uuid AND org_id = $2::uuid",
                                    parse_uuid(user_id), parse_uuid(org_id)))


async def login_row(pool: asyncpg.Pool, email: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT id::text, org_id::text, email, password_hash FROM users WHERE email = $1",
                               email)


_SESSION = ("SELECT s.id::text AS id, s.user_id::text AS user_id, s.org_id::text AS org_id, u.email,"
            " o.name AS org_name, s.created_at, s.expires_at, s.ended_at, s.user_agent"
            " FROM sessions s JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = s.org_id")


def session_view(r: asyncpg.Record) -> c.SessionView:
    return c.SessionView(id=r["id"], user_id=r["user_id"], org_id=r["org_id"], email=r["email"],
                         organization_name=r["org_name"], created_at=rfc3339(r["created_at"]),
                         expires_at=rfc3339(r["expires_at"]),
                         ended_at=rfc3339(r["ended_at"]) if r["ended_at"] else None, user_agent=r["user_agent"])


async def session_by_id(conn: Conn, session_id: str) -> c.SessionView:
    return session_view(await conn.fetchrow(_SESSION + " WHERE s.id = $1", session_id))


async def session_by_token(pool: asyncpg.Pool, token_hash: str) -> asyncpg.Record | None:
    return await pool.fetchrow(_SESSION + " WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()",
                               token_hash)


async def sessions_of(pool: asyncpg.Pool, org_id: str, user_id: str | None) -> list[c.SessionView]:
    rows = await pool.fetch(
        _SESSION + " WHERE s.org_id = $1::uuid AND ($2::uuid IS NULL OR s.user_id = $2::uuid)"
        " AND s.ended_at IS NULL AND s.expires_at > now() ORDER BY s.created_at DESC LIMIT 100",
        parse_uuid(org_id), user_id)
    return [session_view(r) for r in rows]


# -- holding credit: one statement ---------------------------------------------------------------------
async def hold(store: EventStore, ev: E.CreditReserved, version: int = 0) -> int | None:
    """CreditReserved appended at ``version`` (0: a new reservation; a released one's: held again) and
    projected (balance, reservation, ledger) in one statement, its own transaction, only if the balance
    covers it: the balance row is locked for one round trip only, so one organization's concurrent sends
    are not queued behind each other's BEGIN … COMMIT. The balance after, or None (not enough credit,
    nothing written)."""
    w = (Write().append(stream_of(ev), version, [ev])
         .project(sql("UPDATE balances SET available_micros = available_micros - :amount"
                      " WHERE org_id = :org AND available_micros >= :amount RETURNING available_micros",
                      org=ev.org_id, amount=ev.amount_micros), "bal")
         .project(sql("INSERT INTO reservations (id, org_id, amount_micros, state, reason, reference, created_at,"
                      " version) SELECT :id, :org, :amount, 'held', :reason, :reference, :at, :version FROM bal"
                      " ON CONFLICT (id) DO UPDATE SET amount_micros = EXCLUDED.amount_micros, state = 'held',"
                      " created_at = EXCLUDED.created_at, version = EXCLUDED.version",
                      id=ev.reservation_id, org=ev.org_id, amount=ev.amount_micros, reason=ev.reason,
                      reference=ev.reference, at=ev.occurred_at, version=version + 1))
         .project(_ledger(ev.event_id, ev, source="bal"))
         .only_where(sql("EXISTS (SELECT 1 FROM bal)"))
         .returning(sql("SELECT (SELECT available_micros FROM bal) AS available_micros")))
    rows = await store.write(w)
    bal = rows[0]["available_micros"] if rows else None
    return None if bal is None else int(bal)


_REQUESTS = {"id": "text", "org_id": "uuid", "amount": "bigint", "reason": "text", "reference": "text",
             "ledger_id": "uuid"}


async def hold_together(store: EventStore, events: list[E.CreditReserved], now: datetime) -> dict[str, int]:
    """``hold`` for many in one statement: each organization's reservations are held only if its balance
    covers all of them. Answers the organizations that paid, with their balance after."""
    req = table("r", _REQUESTS, [(ev.reservation_id, ev.org_id, ev.amount_micros, ev.reason, ev.reference,
                                  ev.event_id) for ev in events])
    w = Write()
    for ev in events:
        w.append(stream_of(ev), 0, [ev])
    w.project(sql("SELECT * FROM :req", req=req), "req")
    w.project(sql("SELECT org_id, sum(amount)::bigint AS total FROM req GROUP BY org_id"), "tot")
    # the batch's balances locked in one order (by organization) before any is changed: two batches naming
    # the same organizations cannot deadlock, whatever order the UPDATE's plan would visit them in
    w.project(sql("SELECT org_id FROM balances WHERE org_id IN (SELECT org_id FROM tot) ORDER BY org_id"
                  " FOR UPDATE"), "lck")
    w.project(sql("UPDATE balances b SET available_micros = b.available_micros - tot.total FROM tot JOIN lck"
                  " USING (org_id) WHERE b.org_id = tot.org_id AND b.available_micros >= tot.total"
                  " RETURNING b.org_id, b.available_micros"), "bal")
    paid = "FROM req WHERE org_id IN (SELECT org_id FROM bal)"
    w.project(sql("INSERT INTO reservations (id, org_id, amount_micros, state, reason, reference, created_at)"
                  f" SELECT id, org_id, amount, 'held', reason, reference, :at {paid}", at=now))
    w.project(sql("INSERT INTO ledger (id, org_id, kind, amount_micros, reason, reference, created_at)"
                  f" SELECT ledger_id, org_id, 'debit', -amount, reason, reference, :at {paid}", at=now))
    w.only_where(sql("e.org_id::uuid IN (SELECT org_id FROM bal)"))
    w.returning(sql("SELECT org_id::text AS org_id, available_micros FROM bal"))
    rows = await store.write(w)
    return {r["org_id"]: r["available_micros"] for r in rows}


async def record_captures(store: EventStore, conn: asyncpg.Connection,
                          captures: list[tuple[int, E.CreditCaptured]]) -> None:
    """Many captures of held reservations, each after its stream's version: appended and projected in one
    statement."""
    w = Write()
    for version, ev in captures:
        w.append(stream_of(ev), version, [ev])
    w.project(sql("UPDATE reservations SET state = 'captured', version = version + 1 WHERE id = ANY(:ids::text[])",
                  ids=[ev.reservation_id for _, ev in captures]))
    await store.write(w, conn)
