"""The numbers service's SQL: aggregate states loaded from their tables, events appended with the tables
projected from them in the same transaction, read-model queries, rows → API views, keyset cursors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import msgspec

from libs.store import Sql, Write, sql
from libs.store.eventstore import EventStore
from proto.api import format_money, page_after, page_cursor
from proto.base import Event, NotFound, parse_uuid, rfc3339, utcnow
from proto.events import numbers as E
from proto.http.numbers import NumberView
from proto.http.tendlc import BrandView, CampaignView, RejectionReasonView
from services.numbers import rules
from services.numbers.model import BrandState, CampaignState, NumberState, Resubmission
from services.numbers.order_model import OrderState

Row: TypeAlias = asyncpg.Record
_enc = msgspec.json.Encoder()

NUMBER_SELECT = (
    "SELECT n.id::text AS id, n.org_id::text AS org_id, n.e164, n.status, n.version, n.friendly_name,"
    " n.inbound_url, n.status_callback_url, n.webhook_secret, n.previous_secret, n.previous_secret_expires_at,"
    " n.capabilities, n.monthly_price_micros, n.region, n.locality, n.campaign_id::text AS campaign_id,"
    " n.created_at, n.last_rotation_id::text AS last_rotation_id, c.status AS campaign_status"
    " FROM phone_numbers n LEFT JOIN campaigns c ON c.id = n.campaign_id"
)
BRAND_SELECT = "SELECT *, id::text AS sid FROM brands"
CAMPAIGN_SELECT = (
    "SELECT c.*, c.id::text AS sid, c.brand_id::text AS sbrand_id, b.vetting_score, b.entity_type,"
    " b.display_name AS brand_name, b.email AS brand_email, b.identity_status, b.carrier_ref AS brand_ref"
    " FROM campaigns c JOIN brands b ON b.id = c.brand_id"
)


# -- numbers -----------------------------------------------------------------------------------------
def number_view(r: Row, now: datetime | None = None) -> NumberView:
    now = now or utcnow()
    grace = r["previous_secret_expires_at"]
    return NumberView(
        id=r["id"], phone_number=r["e164"], friendly_name=r["friendly_name"], status=r["status"],
        inbound_url=r["inbound_url"], webhook_secret=r["webhook_secret"],
        status_callback_url=r["status_callback_url"], capabilities=list(r["capabilities"]),
        monthly_price=format_money(r["monthly_price_micros"]), campaign_id=r["campaign_id"],
        sending_enabled=r["campaign_status"] == "approved", created_at=rfc3339(r["created_at"]),
        region=r["region"], locality=r["locality"],
        previous_webhook_secret_expires_at=rfc3339(grace) if grace and r["previous_secret"] and grace > now else None,
    )


async def number_row(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, phone_number_id: str,
                     lock: bool = False) -> Row:
    """An active number of this organization, or 404 (another org's id looks exactly like a missing one)."""
    return await _owned(conn, NUMBER_SELECT + " WHERE n.id = $1 AND n.org_id = $2 AND n.status = 'active'"
                        + (" FOR UPDATE OF n" if lock else ""), phone_number_id, org_id,
                        NotFound("phone number", {"phone_number_id": phone_number_id}))


async def _owned(conn: asyncpg.Connection | asyncpg.Pool, query: str, ident: str, org_id: str,
                 missing: NotFound) -> Row:
    """The row ``query`` finds ($1: the id, $2: the organization), or ``missing`` raised (also when either
    is not a UUID: no such row)."""
    row, canonical = None, parse_uuid(ident)
    if canonical is not None and parse_uuid(org_id) is not None:
        row = await conn.fetchrow(query, canonical, org_id)
    if row is None:
        raise missing
    return row


async def numbers_page(pool: asyncpg.Pool, org_id: str, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    ts, ident = page_after(cursor)
    rows = await pool.fetch(
        NUMBER_SELECT + " WHERE n.org_id = $1 AND n.status = 'active'"
        " AND ($2::timestamptz IS NULL OR (n.created_at, n.id) < ($2, $3::uuid))"
        " ORDER BY n.created_at DESC, n.id DESC LIMIT $4", org_id, ts, ident, limit + 1)
    return list(rows[:limit]), page_cursor(rows, limit)


# -- brands ------------------------------------------------------------------------------------------
def brand_view(r: Row) -> BrandView:
    score = r["vetting_score"]
    return BrandView(
        id=r["sid"], entity_type=r["entity_type"], display_name=r["display_name"], company_name=r["company_name"],
        ein=r["ein"], email=r["email"], phone=r["phone"], website=r["website"], vertical=r["vertical"],
        street=r["street"], city=r["city"], state=r["state"], postal_code=r["postal_code"], country=r["country"],
        identity_status=r["identity_status"], vetting_score=score, throughput_mpm=rules.throughput_mpm(score),
        daily_cap=rules.daily_cap(score), created_at=rfc3339(r["created_at"]),
    )


async def brand_row(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, brand_id: str, field: str | None = None,
                    lock: bool = False) -> Row:
    return await _owned(conn, BRAND_SELECT + " WHERE id = $1 AND org_id = $2" + (" FOR UPDATE" if lock else ""),
                        brand_id, org_id, NotFound("brand", {"field": field} if field else {"brand_id": brand_id}))


# -- campaigns ---------------------------------------------------------------------------------------
def fields_of(r: Row) -> dict[str, Any]:
    value: dict[str, Any] = msgspec.json.decode(r["fields"]) if isinstance(r["fields"], str) else dict(r["fields"])
    return value


def reasons_of(r: Row) -> list[dict[str, str]]:
    raw = r["rejection_reasons"]
    value: list[dict[str, str]] = msgspec.json.decode(raw) if isinstance(raw, str) else list(raw)
    return value


def campaign_view(r: Row, phone_number_ids: list[str]) -> CampaignView:
    f = fields_of(r)
    score = r["vetting_score"]
    status = "pending_review" if r["status"] == "submitting" else r["status"]
    return CampaignView(
        id=r["sid"], brand_id=r["sbrand_id"], status=status, use_case=r["use_case"],
        sub_use_cases=f.get("sub_use_cases") or [], description=f.get("description", ""),
        message_flow=f.get("message_flow", ""), sample_messages=f.get("sample_messages") or [],
        opt_in_keywords=f.get("opt_in_keywords") or [], opt_in_message=f.get("opt_in_message"),
        opt_out_keywords=f.get("opt_out_keywords") or [], opt_out_message=f.get("opt_out_message") or "",
        help_keywords=f.get("help_keywords") or [], help_message=f.get("help_message") or "",
        embedded_link=bool(f.get("embedded_link")), embedded_phone=bool(f.get("embedded_phone")),
        age_gated=bool(f.get("age_gated")), number_pool=bool(f.get("number_pool")),
        status_callback_url=r["status_callback_url"], webhook_secret=r["webhook_secret"],
        rejection_reasons=[RejectionReasonView(code=x["code"], description=x.get("description", ""))
                           for x in reasons_of(r)],
        phone_number_ids=phone_number_ids,
        throughput_mpm=rules.throughput_mpm(score, r["use_case"]), daily_cap=rules.daily_cap(score),
        created_at=rfc3339(r["created_at"]),
        submitted_at=rfc3339(r["submitted_at"]) if r["submitted_at"] else None,
        reviewed_at=rfc3339(r["reviewed_at"]) if r["reviewed_at"] else None,
    )


async def campaign_row(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, campaign_id: str,
                       lock: bool = False) -> Row:
    return await _owned(conn, CAMPAIGN_SELECT + " WHERE c.id = $1 AND c.org_id = $2 AND c.status <> 'submitting'"
                        + (" FOR UPDATE OF c" if lock else ""), campaign_id, org_id,
                        NotFound("campaign", {"campaign_id": campaign_id}))


async def campaign_numbers(conn: asyncpg.Connection | asyncpg.Pool, campaign_ids: list[str]) -> dict[str, list[str]]:
    rows = await conn.fetch(
        "SELECT campaign_id::text AS cid, id::text AS id FROM phone_numbers"
        " WHERE campaign_id = ANY($1::uuid[]) AND status = 'active' ORDER BY created_at, id", campaign_ids)
    out: dict[str, list[str]] = {c: [] for c in campaign_ids}
    for r in rows:
        out[r["cid"]].append(r["id"])
    return out


async def campaign_views(conn: asyncpg.Connection | asyncpg.Pool, rows: list[Row]) -> list[CampaignView]:
    links = await campaign_numbers(conn, [r["sid"] for r in rows])
    return [campaign_view(r, links[r["sid"]]) for r in rows]


# -- number orders ---------------------------------------------------------------------------------
async def order_state(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, order_id: str, lock: bool = False) -> OrderState | None:
    """The order, its row locked with ``lock`` (every change of an order takes that lock first)."""
    r = await conn.fetchrow(
        "SELECT status, numbers, amount_micros, settled, created_at, version FROM number_orders"
        " WHERE id = $1 AND org_id = $2" + (" FOR UPDATE" if lock else ""), order_id, org_id)
    if r is None:
        return None
    return OrderState(id=order_id, org_id=org_id, status=r["status"], numbers=tuple(r["numbers"]),
                      amount_micros=r["amount_micros"], created_at=r["created_at"], settled=r["settled"],
                      version=r["version"])


def _order(ev: E.NumberOrderPlaced) -> Sql:
    return sql("INSERT INTO number_orders (id, org_id, status, numbers, amount_micros, created_at, version)"
               " VALUES (:id, :org, 'pending', :numbers, :amount, :at, 1)", id=ev.order_id, org=ev.org_id,
               numbers=sql(":v::text[]", v=ev.numbers), amount=ev.amount_micros, at=ev.occurred_at)


# -- aggregate states --------------------------------------------------------------------------------
def number_state(r: Row) -> NumberState:
    return NumberState(id=r["id"], org_id=r["org_id"], e164=r["e164"], status=r["status"], version=r["version"],
                       friendly_name=r["friendly_name"], inbound_url=r["inbound_url"],
                       status_callback_url=r["status_callback_url"], has_secret=r["webhook_secret"] is not None,
                       campaign_id=r["campaign_id"], last_rotation_id=r["last_rotation_id"])


def brand_state(r: Row) -> BrandState:
    return BrandState(id=r["sid"], org_id=str(r["org_id"]), entity_type=r["entity_type"],
                      display_name=r["display_name"], email=r["email"], identity_status=r["identity_status"],
                      vetting_score=r["vetting_score"], carrier_ref=r["carrier_ref"], version=r["version"])


def campaign_state(r: Row, numbers: int = 0) -> CampaignState:
    """From a ``CAMPAIGN_SELECT`` row (the campaign with its brand's facts)."""
    brand = BrandState(id=r["sbrand_id"], org_id=str(r["org_id"]), entity_type=r["entity_type"],
                       display_name=r["brand_name"], email=r["brand_email"], identity_status=r["identity_status"],
                       vetting_score=r["vetting_score"], carrier_ref=r["brand_ref"])
    return CampaignState(id=r["sid"], org_id=str(r["org_id"]), brand=brand, status=r["status"], use_case=r["use_case"],
                         fields=fields_of(r), version=r["version"], carrier_ref=r["carrier_ref"],
                         submitted_at=r["submitted_at"], status_callback_url=r["status_callback_url"],
                         last_submission_id=str(r["last_submission_id"]) if r["last_submission_id"] else None,
                         numbers=numbers)


async def numbers_on(conn: asyncpg.Connection, campaign_id: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM phone_numbers WHERE campaign_id = $1 AND status = 'active'",
                                   campaign_id))


# -- appending and projecting ------------------------------------------------------------------------
@dataclass(frozen=True)
class Sealed:
    """What is kept but never published, written beside the event that brings it."""

    secret: str | None = None
    """A number's or a campaign's new webhook secret."""
    rotation: bool = False
    """A rotation the organization asked for: its caller-chosen id (or none) is recorded."""
    rotation_id: str | None = None
    """The caller-chosen id of a webhook-secret rotation (its repeat changes nothing)."""
    brand: dict[str, Any] | None = None
    """A brand's registration details (legal name, EIN, contacts, address)."""
    reviewed_at: datetime | None = None
    resubmission: Resubmission | None = None


_TABLES = {"phone_number": "phone_numbers", "brand": "brands", "campaign": "campaigns", "number_order": "number_orders"}
_INSERTED = (E.BrandRegistered, E.NumberOrderPlaced)
"""The events that insert their aggregate's row, with its version."""
_IDS = {"number_order": "order_id"}
"""The event field naming the aggregate, where it is not ``<aggregate>_id``."""
Rows: TypeAlias = dict[tuple[str, str], dict[str, Sql]]
"""The column changes of each row a write touches, by (table, id): merged into one UPDATE per row, for one
statement must not change a row twice."""


def _v(value: object) -> Sql:
    return sql(":v", v=value)


async def record(store: EventStore, conn: asyncpg.Connection | None, *changes: tuple[int, Sequence[Event]],
                 sealed: Sealed = Sealed()) -> int:
    """Append each aggregate's events to its stream at ``version`` (its row's, read under lock) and project
    them into the tables: one statement, in the caller's transaction (``conn`` None: a transaction of its
    own; ``ConcurrencyError`` when a stream moved past its version meanwhile). ``changes``: (version, events) of
    one aggregate each. Answers the new version of the last one."""
    w, rows, version = Write(), Rows(), 0
    for version, events in changes:
        if not events:
            continue
        aggregate = events[0].AGGREGATE
        ident = getattr(events[0], _IDS.get(aggregate, f"{aggregate}_id"))
        w.append(f"{aggregate}-{ident}", version, events)
        version += len(events)
        if not isinstance(events[0], _INSERTED):  # (else its row is inserted with its version)
            rows.setdefault((_TABLES[aggregate], ident), {})["version"] = _v(version)
        for ev in events:
            for statement in project(ev, sealed, rows):
                w.project(statement)
    for (tbl, ident), cols in rows.items():
        sets = ", ".join(f"{col} = :c_{col}" for col in cols)
        w.project(sql(f"UPDATE {tbl} SET {sets} WHERE id = :row", row=ident, **{f"c_{k}": v for k, v in cols.items()}))
    if w.appends:
        await store.write(w, conn)
    return version


def _row(rows: Rows, table_: str, ident: str, **cols: Sql) -> list[Sql]:
    rows.setdefault((table_, ident), {}).update(cols)
    return []


def project(ev: Event, sealed: Sealed, rows: Rows) -> list[Sql]:
    """The tables as the event leaves them: its row's column changes (into ``rows``), other statements
    answered."""
    match ev:
        case E.NumberOrderPlaced():
            return [_order(ev)]
        case E.NumberOrderCompleted():
            return _row(rows, "number_orders", ev.order_id, status=sql("'completed'"))
        case E.NumberOrderFailed():  # its claims are dropped
            return [sql("DELETE FROM phone_numbers WHERE order_id = :v AND status = 'pending'", v=ev.order_id),
                    *_row(rows, "number_orders", ev.order_id, status=sql("'failed'"))]
        case E.NumberOrderSettled():
            return _row(rows, "number_orders", ev.order_id, settled=sql("true"))
        case E.PhoneNumberOrdered():
            return _row(rows, "phone_numbers", ev.phone_number_id, status=sql("'active'"))
        case E.PhoneNumberConfigured():
            return _row(rows, "phone_numbers", ev.phone_number_id, friendly_name=_v(ev.friendly_name),
                        inbound_url=_v(ev.inbound_url), status_callback_url=_v(ev.status_callback_url))
        case E.WebhookSecretRotated():
            rotation = {"last_rotation_id": sql(":v::uuid", v=sealed.rotation_id)} if sealed.rotation else {}
            return _row(rows, "phone_numbers", ev.phone_number_id, webhook_secret=_v(sealed.secret),
                        previous_secret=sql("NULL" if ev.first else "webhook_secret"),
                        previous_secret_expires_at=sql(":v::timestamptz", v=ev.grace_until), **rotation)
        case E.PhoneNumberReleased():
            return _row(rows, "phone_numbers", ev.phone_number_id, status=sql("'released'"),
                        released_at=_v(ev.occurred_at), campaign_id=sql("NULL"), webhook_secret=sql("NULL"),
                        previous_secret=sql("NULL"))
        case E.CampaignNumberAssigned():
            return _row(rows, "phone_numbers", ev.phone_number_id, campaign_id=sql(":v::uuid", v=ev.campaign_id))
        case E.CampaignNumberRemoved():
            return _row(rows, "phone_numbers", ev.phone_number_id, campaign_id=sql("NULL"))
        case E.CampaignSubmitted():
            return _row(rows, "campaigns", ev.campaign_id, status=sql("'pending_review'"), carrier_ref=_v(ev.carrier_ref))
        case E.CampaignApproved() | E.CampaignRejected():
            reasons = [] if isinstance(ev, E.CampaignApproved) else [msgspec.to_builtins(r) for r in ev.rejection_reasons]
            return _row(rows, "campaigns", ev.campaign_id,
                        status=_v("approved" if isinstance(ev, E.CampaignApproved) else "rejected"),
                        rejection_reasons=sql(":v::jsonb", v=_enc.encode(reasons).decode()),
                        reviewed_at=_v(sealed.reviewed_at or ev.occurred_at))
        case E.CampaignResubmitted():
            return _resubmitted(ev, sealed, rows)
        case E.BrandRegistered():
            return [_brand(ev, sealed)]
    raise TypeError(f"no projection for {type(ev).__name__}")


def _resubmitted(ev: E.CampaignResubmitted, sealed: Sealed, rows: Rows) -> list[Sql]:
    r = sealed.resubmission
    assert r is not None
    url = sql(":v::text", v=r.status_callback_url)
    return _row(rows, "campaigns", ev.campaign_id, status=sql("'pending_review'"), use_case=_v(r.use_case),
                fields=sql(":v::jsonb", v=_enc.encode(r.fields).decode()),
                status_callback_url=sql("COALESCE(:url, status_callback_url)", url=url),
                webhook_secret=sql("COALESCE(webhook_secret, CASE WHEN :url IS NULL THEN NULL ELSE :secret END)",
                                   url=url, secret=sql(":v::text", v=sealed.secret)),
                rejection_reasons=sql("'[]'::jsonb"), submitted_at=_v(ev.occurred_at), reviewed_at=sql("NULL"),
                last_submission_id=sql(":v::uuid", v=r.submission_id))


BRAND_DETAILS = ("company_name", "ein", "email", "phone", "website", "vertical", "street", "city", "state",
                 "postal_code", "country")


def _brand(ev: E.BrandRegistered, sealed: Sealed) -> Sql:
    """The brand's row: the event's facts with the details that stay here (``sealed.brand``)."""
    details = sealed.brand or {}
    return sql(
        "INSERT INTO brands (id, org_id, version, entity_type, display_name, company_name, ein, email, phone, website,"
        " vertical, street, city, state, postal_code, country, identity_status, vetting_score, carrier_ref,"
        " created_at) VALUES (:id, :org, 1, :entity_type, :display_name, :company_name, :ein, :email, :phone,"
        " :website, :vertical, :street, :city, :state, :postal_code, :country, :identity_status, :vetting_score,"
        " :carrier_ref, :at)", id=ev.brand_id, org=ev.org_id, entity_type=ev.entity_type,
        display_name=ev.display_name, identity_status=ev.identity_status, vetting_score=ev.vetting_score,
        carrier_ref=ev.carrier_ref, at=ev.occurred_at, **{k: details.get(k) for k in BRAND_DETAILS})


async def insert_submitting(pool: asyncpg.Pool, campaign_id: str, org_id: str, brand_id: str, use_case: str,
                            fields: dict[str, Any], url: str | None, secret: str | None, now: datetime) -> int:
    """A new campaign, ``submitting`` until the carrier takes it (no event yet: nothing happened until then).
    Answers how many campaigns its brand has with it."""
    async with pool.acquire() as conn, conn.transaction():
        count = int(await conn.fetchval("SELECT count(*) FROM campaigns WHERE brand_id = $1", brand_id))
        await conn.execute(
            "INSERT INTO campaigns (id, org_id, brand_id, status, use_case, fields, status_callback_url,"
            " webhook_secret, created_at, submitted_at) VALUES ($1, $2, $3, 'submitting', $4, $5::jsonb, $6,"
            " $7, $8, $8)", campaign_id, org_id, brand_id, use_case, _enc.encode(fields).decode(), url, secret, now)
    return count + 1
