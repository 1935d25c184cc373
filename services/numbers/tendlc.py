"""10DLC handlers: brands (registered with the registry), campaigns (submitted for carrier review,
resubmitted when rejected), numbers on campaigns, and applying the carrier's review decisions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import structlog

from libs.carrier.adapter import Carrier, CarrierError
from libs.store.eventstore import EventStore
from libs.webhooks import urls
from proto.api import page_after
from proto.base import CommandError, Event, NotFound, new_id, parse_uuid, rfc3339, utcnow
from proto.commands import numbers as c
from proto.events.numbers import (
    BrandRegistered,
    CampaignApproved,
    CampaignNumberRemoved,
    CampaignRejected,
    CampaignResubmitted,
    CampaignSubmitted,
    RejectionReason,
)
from proto.http.tendlc import BrandView, CampaignView
from services.numbers import model, store
from services.numbers.config import NumbersSettings
from services.numbers.handlers import append, assign_to_campaign, carrier_failure

log = structlog.get_logger(__name__)
_enc = msgspec.json.Encoder()


def chosen_id(value: str, field: str) -> str:
    ident = parse_uuid(value)
    if ident is None:
        raise CommandError("VALIDATION_ERROR", f"{field}: must be a UUID", 400, {"field": field})
    return ident


class TenDlc:
    def __init__(self, store_: EventStore, settings: NumbersSettings, carrier: Carrier):
        self.store = store_
        self.settings = settings
        self.carrier = carrier

    # -- brands --------------------------------------------------------------------------------------
    async def register_brand(self, cmd: c.RegisterBrand) -> BrandView:
        b = cmd.brand
        brand_id = new_id()
        if cmd.brand_id is not None:
            brand_id = chosen_id(cmd.brand_id, "brand_id")
            again = await self._brand_again(cmd.org_id, brand_id)
            if again is not None:
                return again
        company, ein, email, phone = model.normalize_brand(b.entity_type, b.company_name, b.ein, b.email, b.phone)
        brand: dict[str, Any] = {
            "entity_type": b.entity_type, "display_name": b.display_name.strip(), "company_name": company,
            "ein": ein, "email": email, "phone": phone, "website": b.website, "vertical": b.vertical,
            "street": b.street, "city": b.city, "state": b.state, "postal_code": b.postal_code,
            "country": b.country.upper(),
        }
        try:
            res = await self.carrier.register_brand(brand)
        except CarrierError as exc:
            raise carrier_failure(exc) from exc
        now = utcnow()
        try:
            row = await self._insert_brand(cmd, brand_id, brand, res, now)
        except asyncpg.UniqueViolationError:
            again = await self._brand_again(cmd.org_id, brand_id) if cmd.brand_id is not None else None
            if again is None:
                raise
            return again
        log.info("brand_registered", org_id=cmd.org_id, brand_id=brand_id, identity_status=res.identity_status)
        return store.brand_view(row)

    async def _brand_again(self, org_id: str, brand_id: str) -> BrandView | None:
        """The brand a repeated registration (same chosen id) made; None when there is none yet."""
        row = await self.store.pool.fetchrow("SELECT org_id::text FROM brands WHERE id = $1", brand_id)
        if row is None:
            return None
        if row["org_id"] != org_id:
            raise CommandError("CONFLICT", "brand_id: already used", 409)
        return store.brand_view(await store.brand_row(self.store.pool, org_id, brand_id))

    async def _insert_brand(self, cmd: c.RegisterBrand, brand_id: str, brand: dict[str, Any], res: Any,
                            now: Any) -> Any:
        b = cmd.brand
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO brands (id, org_id, entity_type, display_name, company_name, ein, email, phone, website,"
                " vertical, street, city, state, postal_code, country, identity_status, vetting_score, carrier_ref,"
                " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
                " $18, $19)", brand_id, cmd.org_id, *brand.values(), res.identity_status, res.vetting_score,
                res.brand_ref, now)
            await append(self.store, conn, "brands", f"brand-{brand_id}", brand_id, 0, [
                BrandRegistered(org_id=cmd.org_id, brand_id=brand_id, entity_type=b.entity_type,
                                display_name=brand["display_name"], identity_status=res.identity_status,
                                vetting_score=res.vetting_score, carrier_ref=res.brand_ref, occurred_at=now)
            ])
            return await store.brand_row(conn, cmd.org_id, brand_id)

    async def list_brands(self, cmd: c.ListBrands) -> c.BrandPage:
        ts, ident = page_after(cmd.cursor)
        rows = list(await self.store.pool.fetch(
            store.BRAND_SELECT + " WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
            " ORDER BY created_at DESC, id DESC LIMIT $4", cmd.org_id, ts, ident, cmd.limit + 1))
        return c.BrandPage(data=[store.brand_view(r) for r in rows[: cmd.limit]],
                           next_cursor=store.next_cursor(rows, cmd.limit))

    async def show_brand(self, cmd: c.ShowBrand) -> BrandView:
        return store.brand_view(await store.brand_row(self.store.pool, cmd.org_id, cmd.brand_id))

    # -- campaigns -----------------------------------------------------------------------------------
    async def create_campaign(self, cmd: c.CreateCampaign) -> CampaignView:
        body, org_id, pool = cmd.campaign, cmd.org_id, self.store.pool
        campaign_id = new_id()
        if cmd.campaign_id is not None:
            campaign_id = chosen_id(cmd.campaign_id, "campaign_id")
            again = await self._campaign_again(org_id, campaign_id)
            if again is not None:
                return again
        url = (await urls.check_url(body.status_callback_url, "status_callback_url", self.settings.env,
                                       self.settings.dns_timeout_s) if body.status_callback_url else None)
        brand = await store.brand_row(pool, org_id, body.brand_id, field="brand_id")
        if brand["identity_status"] == "UNVERIFIED":
            raise CommandError("BRAND_UNVERIFIED", "the brand failed identity verification (check its EIN and legal "
                               "name, then register it again)", 409, {"brand_id": brand["sid"]})
        if body.phone_number_ids is None:  # the quickstart's way: the org's numbers on no other campaign join
            rows = await pool.fetch("SELECT id::text AS id, e164 FROM phone_numbers WHERE org_id = $1"
                                    " AND status = 'active' AND campaign_id IS NULL ORDER BY created_at, id", org_id)
        else:
            rows = await self._free_numbers(pool, org_id, body.phone_number_ids, None)
        numbers = [(r["id"], r["e164"]) for r in rows]
        fields = model.campaign_fields(body, brand["display_name"], brand["email"])
        now = utcnow()
        try:
            async with self.store.transaction() as conn:  # visible to the review callback as "submitting"
                count = await conn.fetchval("SELECT count(*) FROM campaigns WHERE brand_id = $1", brand["id"])
                await conn.execute(
                    "INSERT INTO campaigns (id, org_id, brand_id, status, use_case, fields, status_callback_url,"
                    " webhook_secret, created_at, submitted_at) VALUES ($1, $2, $3, 'submitting', $4, $5::jsonb, $6,"
                    " $7, $8, $8)", campaign_id, org_id, brand["id"], body.use_case, _enc.encode(fields).decode(),
                    url, model.new_webhook_secret() if url else None, now)
        except asyncpg.UniqueViolationError:
            again = await self._campaign_again(org_id, campaign_id) if cmd.campaign_id is not None else None
            if again is None:
                raise
            return again
        payload = {"brand_ref": brand["carrier_ref"], "entity_type": brand["entity_type"],
                   "brand_campaign_count": count + 1, "number_count": len(numbers), "use_case": body.use_case,
                   **fields}
        try:
            ref = await self.carrier.submit_campaign(payload)
        except CarrierError as exc:
            await pool.execute("DELETE FROM campaigns WHERE id = $1", campaign_id)
            raise carrier_failure(exc) from exc
        async with self.store.transaction() as conn:
            await conn.execute("UPDATE campaigns SET status = 'pending_review', carrier_ref = $2 WHERE id = $1",
                               campaign_id, ref)
            version = await append(self.store, conn, "campaigns", f"campaign-{campaign_id}", campaign_id, 0, [
                CampaignSubmitted(org_id=org_id, campaign_id=campaign_id, brand_id=brand["sid"],
                                  use_case=body.use_case, carrier_ref=ref, occurred_at=now, **model.keyword_fields(fields))
            ])
            still_free = await conn.fetch(  # a number another campaign took meanwhile stays there
                "SELECT id::text AS id, e164 FROM phone_numbers WHERE id = ANY($1::uuid[]) AND status = 'active'"
                " AND campaign_id IS NULL ORDER BY created_at, id FOR UPDATE", [n[0] for n in numbers])
            await assign_to_campaign(self.store, conn, org_id, campaign_id, version,
                                     [(r["id"], r["e164"]) for r in still_free])
            view = await self._view(conn, org_id, campaign_id)
        log.info("campaign_submitted", org_id=org_id, campaign_id=campaign_id, numbers=len(still_free))
        return view

    async def _free_numbers(self, conn: asyncpg.Connection | asyncpg.Pool, org_id: str, ids: list[str],
                            campaign_id: str | None, lock: bool = False) -> list[asyncpg.Record]:
        """The named numbers, each the org's and on no campaign but ``campaign_id``, or 404 / 409."""
        wanted = list(dict.fromkeys(ids))
        for i, raw in enumerate(wanted):
            if parse_uuid(raw) is None:
                raise NotFound("phone number", {"field": f"phone_number_ids.{i}", "phone_number_id": raw})
        rows = await conn.fetch(
            "SELECT id::text AS id, e164, campaign_id::text AS campaign_id FROM phone_numbers WHERE id = ANY($1::uuid[])"
            " AND org_id = $2 AND status = 'active' ORDER BY created_at, id" + (" FOR UPDATE" if lock else ""),
            [parse_uuid(x) for x in wanted], org_id)
        found = {r["id"] for r in rows}
        missing = [x for x in wanted if parse_uuid(x) not in found]
        if missing:
            raise NotFound("phone number", {"field": "phone_number_ids", "phone_number_ids": missing})
        busy = {r["id"]: r["campaign_id"] for r in rows if r["campaign_id"] not in (None, campaign_id)}
        if busy:
            raise CommandError("NUMBER_ON_OTHER_CAMPAIGN", "a number can be on one campaign only; remove it from its "
                               "campaign first (DELETE /v1/campaigns/{id}/phone-numbers/{phone_number_id})", 409,
                               {"campaigns": busy})
        return list(rows)

    async def _campaign_again(self, org_id: str, campaign_id: str) -> CampaignView | None:
        """The campaign a repeated creation (same chosen id) made; None when there is none yet."""
        row = await self.store.pool.fetchrow("SELECT org_id::text, status, created_at FROM campaigns WHERE id = $1",
                                             campaign_id)
        if row is None:
            return None
        if row["org_id"] != org_id:
            raise CommandError("CONFLICT", "campaign_id: already used", 409)
        if row["status"] == "submitting":
            if utcnow() - row["created_at"] < timedelta(seconds=self.settings.abandoned_after_s):
                raise CommandError("IDEMPOTENCY_IN_FLIGHT", "this campaign is still being submitted; retry shortly",
                                   409, {"retry_after_s": 2})
            # its submission died mid-way (the sweeper would drop it): drop it now and submit again
            await self.store.pool.execute("DELETE FROM campaigns WHERE id = $1 AND status = 'submitting'",
                                          campaign_id)
            return None
        return await self._view(self.store.pool, org_id, campaign_id)

    async def _view(self, conn: asyncpg.Connection | asyncpg.Pool, org_id: str, campaign_id: str) -> CampaignView:
        return (await store.campaign_views(conn, [await store.campaign_row(conn, org_id, campaign_id)]))[0]

    async def list_campaigns(self, cmd: c.ListCampaigns) -> c.CampaignPage:
        ts, ident = page_after(cmd.cursor)
        pool = self.store.pool
        rows = list(await pool.fetch(
            store.CAMPAIGN_SELECT + " WHERE c.org_id = $1 AND c.status <> 'submitting'"
            " AND ($2::timestamptz IS NULL OR (c.created_at, c.id) < ($2, $3::uuid))"
            " ORDER BY c.created_at DESC, c.id DESC LIMIT $4", cmd.org_id, ts, ident, cmd.limit + 1))
        return c.CampaignPage(data=await store.campaign_views(pool, rows[: cmd.limit]),
                              next_cursor=store.next_cursor(rows, cmd.limit))

    async def show_campaign(self, cmd: c.ShowCampaign) -> CampaignView:
        return await self._view(self.store.pool, cmd.org_id, cmd.campaign_id)

    async def resubmit(self, cmd: c.ResubmitCampaign) -> CampaignView:
        """Edit a rejected campaign and send it back to review. The row stays locked across the carrier
        call, so the review callback (which locks it too) always sees the new submission."""
        e = cmd.edits
        url = (await urls.check_url(e.status_callback_url, "status_callback_url", self.settings.env,
                                       self.settings.dns_timeout_s) if e.status_callback_url else None)
        now = utcnow()
        submission_id = chosen_id(cmd.submission_id, "submission_id") if cmd.submission_id is not None else None
        async with self.store.transaction() as conn:
            row = await store.campaign_row(conn, cmd.org_id, cmd.campaign_id, lock=True)
            if submission_id is not None and str(await conn.fetchval(
                    "SELECT last_submission_id FROM campaigns WHERE id = $1", row["id"])) == submission_id:
                return await self._view(conn, cmd.org_id, row["sid"])  # this very resubmission happened already
            if row["status"] != "rejected":
                raise CommandError("CONFLICT", f"only a rejected campaign can be resubmitted (this one is "
                                   f"{row['status']})", 409, {"status": row["status"]})
            fields, changed = model.apply_edits(store.fields_of(row), e)
            use_case = e.use_case or row["use_case"]
            if use_case != row["use_case"]:
                changed.append("use_case")
            if url and url != row["status_callback_url"]:
                changed.append("status_callback_url")
            held = await conn.fetchval("SELECT count(*) FROM phone_numbers WHERE campaign_id = $1 AND status = 'active'",
                                       row["id"])
            count = await conn.fetchval("SELECT count(*) FROM campaigns WHERE brand_id = $1", row["brand_id"])
            try:
                await self.carrier.submit_campaign({
                    "campaign_ref": row["carrier_ref"], "brand_ref": await conn.fetchval(
                        "SELECT carrier_ref FROM brands WHERE id = $1", row["brand_id"]),
                    "entity_type": row["entity_type"], "brand_campaign_count": count, "number_count": held,
                    "use_case": use_case, **fields})
            except CarrierError as exc:
                raise carrier_failure(exc) from exc
            await conn.execute(
                "UPDATE campaigns SET status = 'pending_review', use_case = $2, fields = $3::jsonb,"
                " status_callback_url = COALESCE($4, status_callback_url),"
                " webhook_secret = COALESCE(webhook_secret, CASE WHEN $4::text IS NULL THEN NULL ELSE $5 END),"
                " rejection_reasons = '[]'::jsonb, submitted_at = $6, reviewed_at = NULL, last_submission_id = $7"
                " WHERE id = $1",
                row["id"], use_case, _enc.encode(fields).decode(), url, model.new_webhook_secret(), now, submission_id)
            await append(self.store, conn, "campaigns", f"campaign-{row['id']}", row["id"], row["version"], [
                CampaignResubmitted(org_id=cmd.org_id, campaign_id=row["sid"], brand_id=row["sbrand_id"],
                                    changed=sorted(changed), occurred_at=now, **model.keyword_fields(fields))
            ])
            view = await self._view(conn, cmd.org_id, row["sid"])
        log.info("campaign_resubmitted", org_id=cmd.org_id, campaign_id=row["sid"], changed=changed)
        return view

    # -- numbers on campaigns ------------------------------------------------------------------------
    async def assign_numbers(self, cmd: c.AssignCampaignNumbers) -> CampaignView:
        async with self.store.transaction() as conn:  # lock order: campaign, then numbers
            camp = await store.campaign_row(conn, cmd.org_id, cmd.campaign_id, lock=True)
            rows = await self._free_numbers(conn, cmd.org_id, cmd.phone_number_ids, camp["sid"], lock=True)
            new = [(r["id"], r["e164"]) for r in rows if r["campaign_id"] is None]
            held = await conn.fetchval("SELECT count(*) FROM phone_numbers WHERE campaign_id = $1 AND status = 'active'",
                                       camp["id"])
            model.sole_proprietor_limit(camp["entity_type"], held + len(new))
            await assign_to_campaign(self.store, conn, cmd.org_id, camp["sid"], camp["version"], new)
            return await self._view(conn, cmd.org_id, camp["sid"])

    async def remove_number(self, cmd: c.RemoveCampaignNumber) -> CampaignView:
        async with self.store.transaction() as conn:
            camp = await store.campaign_row(conn, cmd.org_id, cmd.campaign_id, lock=True)
            ident = parse_uuid(cmd.phone_number_id)
            num = None if ident is None else await conn.fetchrow(
                "SELECT id::text AS id, e164 FROM phone_numbers WHERE id = $1 AND org_id = $2 AND status = 'active'"
                " AND campaign_id = $3 FOR UPDATE", ident, cmd.org_id, camp["id"])
            if num is None:
                raise NotFound("phone number on this campaign", {"phone_number_id": cmd.phone_number_id})
            await conn.execute("UPDATE phone_numbers SET campaign_id = NULL WHERE id = $1", num["id"])
            await append(self.store, conn, "campaigns", f"campaign-{camp['sid']}", camp["sid"], camp["version"], [
                CampaignNumberRemoved(org_id=cmd.org_id, campaign_id=camp["sid"], phone_number_id=num["id"],
                                      e164=num["e164"])
            ])
            return await self._view(conn, cmd.org_id, camp["sid"])

    # -- carrier review ------------------------------------------------------------------------------
    async def review_campaign(self, cmd: c.ReviewCampaign) -> c.ReviewOutcome:
        """The operator's record of the carrier's verdict, applied as the carrier's own callback is."""
        ident = parse_uuid(cmd.campaign_id)
        row = None if ident is None else await self.store.pool.fetchrow(
            "SELECT org_id::text AS org_id, carrier_ref, status FROM campaigns WHERE id = $1", ident)
        if row is None:
            raise NotFound("campaign", {"campaign_id": cmd.campaign_id})
        if row["status"] != "pending_review" or not row["carrier_ref"]:
            raise CommandError("CONFLICT", f"the campaign is {row['status']}, not pending review", 409,
                               {"status": row["status"]})
        if not cmd.approved and not cmd.reasons:
            raise model.invalid("reasons", "a rejection needs at least one reason")
        outcome = await self.apply_review({
            "campaign_ref": row["carrier_ref"], "status": "approved" if cmd.approved else "rejected",
            "rejection_reasons": [{"code": r.code, "description": r.description} for r in cmd.reasons],
            "reviewed_at": rfc3339(utcnow())})
        if outcome != "applied":
            raise CommandError("CONFLICT", "the campaign is no longer pending review", 409)
        return c.ReviewOutcome(campaign_id=str(ident), org_id=row["org_id"],
                               status="approved" if cmd.approved else "rejected")

    async def apply_review(self, payload: Any) -> str:
        """Apply a review decision once: ``applied``, ``ignored`` (unknown, repeated or stale) or ``retry``
        (its campaign is still being submitted: the carrier should call again)."""
        review = model.parse_review(payload)
        async with self.store.transaction() as conn:
            row = await conn.fetchrow(store.CAMPAIGN_SELECT + " WHERE c.carrier_ref = $1 FOR UPDATE OF c",
                                      review.campaign_ref)
            if row is None:
                inflight = await conn.fetchval("SELECT 1 FROM campaigns WHERE status = 'submitting'"
                                               " AND created_at > now() - interval '2 minutes' LIMIT 1")
                return "retry" if inflight else "ignored"
            if row["status"] != "pending_review" or model.is_stale(review, row["submitted_at"]):
                return "ignored"
            org_id, cid, bid = str(row["org_id"]), row["sid"], row["sbrand_id"]
            status = "approved" if review.approved else "rejected"
            reasons = [] if review.approved else review.reasons
            await conn.execute("UPDATE campaigns SET status = $2, rejection_reasons = $3::jsonb, reviewed_at = $4"
                               " WHERE id = $1", row["id"], status, _enc.encode(reasons).decode(),
                               review.reviewed_at or utcnow())
            score = row["vetting_score"]
            ev: Event = (CampaignApproved(org_id=org_id, campaign_id=cid, brand_id=bid,
                                          throughput_mpm=model.throughput_mpm(score, row["use_case"]),
                                          daily_cap=model.daily_cap(score))
                         if review.approved else
                         CampaignRejected(org_id=org_id, campaign_id=cid, brand_id=bid,
                                          rejection_reasons=[RejectionReason(**r) for r in reasons]))
            await append(self.store, conn, "campaigns", f"campaign-{cid}", cid, row["version"], [ev])
            if row["status_callback_url"]:
                view = await self._view(conn, org_id, cid)
                body = _enc.encode({"id": ev.event_id, "type": f"campaign.{status}",
                                    "occurred_at": rfc3339(ev.occurred_at), "data": view})
                await conn.execute(
                    "INSERT INTO campaign_callbacks (id, org_id, campaign_id, url, body, next_attempt_at)"
                    " VALUES ($1, $2, $3, $4, $5, now())", ev.event_id, org_id, cid, row["status_callback_url"], body)
        log.info("campaign_reviewed", org_id=org_id, campaign_id=cid, status=status,
                 reasons=[r["code"] for r in reasons])
        return "applied"
