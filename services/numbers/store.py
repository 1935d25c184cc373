"""The numbers service's SQL: read-model queries, rows → API views, keyset cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import msgspec

from proto.api import format_money, page_after, time_cursor
from proto.base import NotFound, parse_uuid, rfc3339, utcnow
from proto.http.numbers import NumberView
from proto.http.tendlc import BrandView, CampaignView, RejectionReasonView
from services.numbers import model

Row: TypeAlias = asyncpg.Record

NUMBER_SELECT = (
    "SELECT n.id::text AS id, n.org_id::text AS org_id, n.e164, n.status, n.version, n.friendly_name,"
    " n.inbound_url, n.status_callback_url, n.webhook_secret, n.previous_secret, n.previous_secret_expires_at,"
    " n.capabilities, n.monthly_price_micros, n.region, n.locality, n.campaign_id::text AS campaign_id,"
    " n.created_at, c.status AS campaign_status"
    " FROM phone_numbers n LEFT JOIN campaigns c ON c.id = n.campaign_id"
)
BRAND_SELECT = "SELECT *, id::text AS sid FROM brands"
CAMPAIGN_SELECT = (
    "SELECT c.*, c.id::text AS sid, c.brand_id::text AS sbrand_id, b.vetting_score, b.entity_type,"
    " b.display_name AS brand_name, b.email AS brand_email"
    " FROM campaigns c JOIN brands b ON b.id = c.brand_id"
)


def next_cursor(rows: list[Row], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return time_cursor(last["created_at"], str(last["id"]))


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
    ts, ident = page_after(cursor)
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
        identity_status=r["identity_status"], vetting_score=score, throughput_mpm=model.throughput_mpm(score),
        daily_cap=model.daily_cap(score), created_at=rfc3339(r["created_at"]),
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
        throughput_mpm=model.throughput_mpm(score, r["use_case"]), daily_cap=model.daily_cap(score),
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
