"""The numbers service's SQL: aggregate states loaded from their tables, events appended with the tables
projected from them in the same transaction, read-model queries, rows → API views, keyset cursors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import msgspec

from libs.store.eventstore import EventStore
from proto.api import decode_cursor, encode_cursor, format_money
from proto.base import Event, NotFound, parse_uuid, rfc3339, utcnow
from proto.events.numbers import (
    BrandRegistered,
    CampaignApproved,
    CampaignNumberAssigned,
    CampaignNumberRemoved,
    CampaignRejected,
    CampaignResubmitted,
    CampaignSubmitted,
    PhoneNumberConfigured,
    PhoneNumberOrdered,
    PhoneNumberReleased,
    WebhookSecretRotated,
)
from proto.http.numbers import NumberView
from proto.http.tendlc import BrandView, CampaignView, RejectionReasonView
from services.numbers import rules
from services.numbers.model import BrandState, CampaignState, NumberState, Resubmission

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


def page_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        ts, ident = decode_cursor(cursor)
        return datetime.fromisoformat(ts), str(uuid.UUID(str(ident)))
    except Exception as exc:
        raise rules.invalid("cursor", "invalid cursor") from exc


def next_cursor(rows: list[Row], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last["created_at"].isoformat(), str(last["id"]))


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
    ident = parse_uuid(phone_number_id)
    row = None
    if ident is not None and parse_uuid(org_id) is not None:
        row = await conn.fetchrow(
            NUMBER_SELECT + " WHERE n.id = $1 AND n.org_id = $2 AND n.status = 'active'"
            + (" FOR UPDATE OF n" if lock else ""), ident, org_id)
    if row is None:
        raise NotFound("phone number", {"phone_number_id": phone_number_id})
    return row


async def numbers_page(pool: asyncpg.Pool, org_id: str, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    ts, ident = page_cursor(cursor)
    rows = await pool.fetch(
        NUMBER_SELECT + " WHERE n.org_id = $1 AND n.status = 'active'"
        " AND ($2::timestamptz IS NULL OR (n.created_at, n.id) < ($2, $3::uuid))"
        " ORDER BY n.created_at DESC, n.id DESC LIMIT $4", org_id, ts, ident, limit + 1)
    return list(rows[:limit]), next_cursor(list(rows), limit)


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
    ident = parse_uuid(brand_id)
    row = None
    if ident is not None:
        row = await conn.fetchrow(BRAND_SELECT + " WHERE id = $1 AND org_id = $2" + (" FOR UPDATE" if lock else ""),
                                  ident, org_id)
    if row is None:
        raise NotFound("brand", {"field": field} if field else {"brand_id": brand_id})
    return row


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
    ident = parse_uuid(campaign_id)
    row = None
    if ident is not None:
        row = await conn.fetchrow(
            CAMPAIGN_SELECT + " WHERE c.id = $1 AND c.org_id = $2 AND c.status <> 'submitting'"
            + (" FOR UPDATE OF c" if lock else ""), ident, org_id)
    if row is None:
        raise NotFound("campaign", {"campaign_id": campaign_id})
    return row


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


_TABLES = {"phone_number": "phone_numbers", "brand": "brands", "campaign": "campaigns"}


async def record(store: EventStore, conn: asyncpg.Connection, version: int, events: Sequence[Event],
                 sealed: Sealed = Sealed()) -> int:
    """Append one aggregate's events to its stream at ``version`` (its row's, read under lock), then
    project them into the tables, in the caller's transaction. Answers the new version."""
    if not events:
        return version
    aggregate = events[0].AGGREGATE
    ident = getattr(events[0], f"{aggregate}_id")
    new_version = await store.append(conn, f"{aggregate}-{ident}", version, events)
    await conn.execute(f"UPDATE {_TABLES[aggregate]} SET version = $2 WHERE id = $1", ident, new_version)
    joined = [ev.phone_number_id for ev in events if isinstance(ev, CampaignNumberAssigned)]
    if joined:  # one statement for a campaign's new numbers, however many
        await conn.execute("UPDATE phone_numbers SET campaign_id = $1 WHERE id = ANY($2::uuid[])", ident, joined)
    for ev in events:
        await project(conn, ev, sealed)
    return new_version


async def project(conn: asyncpg.Connection, ev: Event, sealed: Sealed) -> None:
    """The tables as the event leaves them (a brand's row is inserted with the event: see ``insert_brand``)."""
    match ev:
        case PhoneNumberOrdered():
            await conn.execute("UPDATE phone_numbers SET status = 'active' WHERE id = $1", ev.phone_number_id)
        case PhoneNumberConfigured():
            await conn.execute("UPDATE phone_numbers SET friendly_name = $2, inbound_url = $3, status_callback_url = $4"
                               " WHERE id = $1", ev.phone_number_id, ev.friendly_name, ev.inbound_url,
                               ev.status_callback_url)
        case WebhookSecretRotated():
            await conn.execute(
                "UPDATE phone_numbers SET previous_secret = CASE WHEN $3 THEN NULL ELSE webhook_secret END,"
                " webhook_secret = $2, previous_secret_expires_at = $4,"
                " last_rotation_id = CASE WHEN $6 THEN $5::uuid ELSE last_rotation_id END WHERE id = $1",
                ev.phone_number_id, sealed.secret, ev.first, ev.grace_until, sealed.rotation_id, sealed.rotation)
        case PhoneNumberReleased():
            await conn.execute(
                "UPDATE phone_numbers SET status = 'released', released_at = $2, campaign_id = NULL,"
                " webhook_secret = NULL, previous_secret = NULL WHERE id = $1", ev.phone_number_id, ev.occurred_at)
        case CampaignSubmitted():
            await conn.execute("UPDATE campaigns SET status = 'pending_review', carrier_ref = $2 WHERE id = $1",
                               ev.campaign_id, ev.carrier_ref)
        case CampaignApproved() | CampaignRejected():
            reasons = [] if isinstance(ev, CampaignApproved) else [msgspec.to_builtins(r) for r in ev.rejection_reasons]
            await conn.execute("UPDATE campaigns SET status = $2, rejection_reasons = $3::jsonb, reviewed_at = $4"
                               " WHERE id = $1", ev.campaign_id, "approved" if isinstance(ev, CampaignApproved)
                               else "rejected", _enc.encode(reasons).decode(), sealed.reviewed_at or ev.occurred_at)
        case CampaignResubmitted():
            await _project_resubmitted(conn, ev, sealed)
        case CampaignNumberRemoved():
            await conn.execute("UPDATE phone_numbers SET campaign_id = NULL WHERE id = $1 AND campaign_id = $2",
                               ev.phone_number_id, ev.campaign_id)
        case BrandRegistered() | CampaignNumberAssigned():
            pass  # inserted with its details (insert_brand); assigned in one statement (record)
        case _:
            raise TypeError(f"no projection for {type(ev).__name__}")


async def _project_resubmitted(conn: asyncpg.Connection, ev: CampaignResubmitted, sealed: Sealed) -> None:
    r = sealed.resubmission
    assert r is not None
    await conn.execute(
        "UPDATE campaigns SET status = 'pending_review', use_case = $2, fields = $3::jsonb,"
        " status_callback_url = COALESCE($4, status_callback_url),"
        " webhook_secret = COALESCE(webhook_secret, CASE WHEN $4::text IS NULL THEN NULL ELSE $5 END),"
        " rejection_reasons = '[]'::jsonb, submitted_at = $6, reviewed_at = NULL, last_submission_id = $7"
        " WHERE id = $1", ev.campaign_id, r.use_case, _enc.encode(r.fields).decode(), r.status_callback_url,
        sealed.secret, ev.occurred_at, r.submission_id)


async def insert_brand(store: EventStore, conn: asyncpg.Connection, ev: BrandRegistered, details: dict[str, Any]) -> None:
    """BrandRegistered appended (a new stream) and its row inserted with the details that stay here."""
    await store.append(conn, f"brand-{ev.brand_id}", 0, [ev])
    await conn.execute(
        "INSERT INTO brands (id, org_id, version, entity_type, display_name, company_name, ein, email, phone, website,"
        " vertical, street, city, state, postal_code, country, identity_status, vetting_score, carrier_ref,"
        " created_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
        " $19)", ev.brand_id, ev.org_id, ev.entity_type, ev.display_name, *(details[k] for k in BRAND_DETAILS),
        ev.identity_status, ev.vetting_score, ev.carrier_ref, ev.occurred_at)


BRAND_DETAILS = ("company_name", "ein", "email", "phone", "website", "vertical", "street", "city", "state",
                 "postal_code", "country")


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
