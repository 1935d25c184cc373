"""10DLC handlers: brands (registered with the registry), campaigns (submitted for carrier review,
resubmitted when rejected) and numbers on campaigns. load → decide (model.Brand, model.Campaign) → append
and project (store.record) in one transaction. The carrier's verdicts come in through ``review.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from libs.carrier.http_api import CarrierError
from libs.store.eventstore import ConcurrencyError
from libs.webhooks import urls
from proto.api import page_after, page_cursor
from proto.base import CommandError, NotFound, accepted, chosen_id, chosen_or_new_id, parse_uuid, utcnow
from proto.commands import numbers as c
from proto.http.tendlc import BrandView, CampaignView
from services.numbers import model, rules, store
from services.numbers.context import Handlers
from services.numbers.handlers import carrier_failure

log = structlog.get_logger(__name__)



class TenDlc(Handlers):
    # -- brands --------------------------------------------------------------------------------------
    async def register_brand(self, cmd: c.RegisterBrand) -> BrandView:
        b = cmd.brand
        brand_id = chosen_or_new_id(cmd.brand_id, "brand_id")
        again = await self._brand_again(cmd.org_id, brand_id) if cmd.brand_id is not None else None
        if again is not None:
            return again
        company, ein, email, phone = rules.normalize_brand(b.entity_type, b.company_name, b.ein, b.email, b.phone)
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
        registry = model.Registry(identity_status=res.identity_status, vetting_score=res.vetting_score,
                                  carrier_ref=res.brand_ref)
        try:
            async with self.store.transaction() as conn:
                events = accepted(model.decide_register_brand(None, cmd.org_id, brand_id, b.entity_type,
                                                              b.display_name, registry, utcnow()))
                await store.record(self.store, conn, (0, events), sealed=store.Sealed(brand=brand))
                row = await store.brand_row(conn, cmd.org_id, brand_id)
        except (asyncpg.UniqueViolationError, ConcurrencyError):
            again = await self._brand_again(cmd.org_id, brand_id) if cmd.brand_id is not None else None
            if again is None:
                raise
            return again
        log.info("brand_registered", org_id=cmd.org_id, brand_id=brand_id, identity_status=res.identity_status)
        return store.brand_view(row)

    async def _brand_again(self, org_id: str, brand_id: str) -> BrandView | None:
        """The brand a repeated registration (same chosen id) made; None when there is none yet."""
        row = await self.store.pool.fetchrow(store.BRAND_SELECT + " WHERE id = $1", brand_id)
        if row is None:
            return None
        if (conflict := model.check_repeat(store.brand_state(row), org_id)) is not None:
            raise conflict
        return store.brand_view(row)

    async def list_brands(self, cmd: c.ListBrands) -> c.BrandPage:
        ts, ident = page_after(cmd.cursor)
        rows = list(await self.store.pool.fetch(
            store.BRAND_SELECT + " WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
            " ORDER BY created_at DESC, id DESC LIMIT $4", cmd.org_id, ts, ident, cmd.limit + 1))
        return c.BrandPage(data=[store.brand_view(r) for r in rows[: cmd.limit]],
                           next_cursor=page_cursor(rows, cmd.limit))

    async def show_brand(self, cmd: c.ShowBrand) -> BrandView:
        return store.brand_view(await store.brand_row(self.store.pool, cmd.org_id, cmd.brand_id))

    # -- campaigns -----------------------------------------------------------------------------------
    async def create_campaign(self, cmd: c.CreateCampaign) -> CampaignView:
        """Submitted for carrier review in three steps: the campaign is inserted as ``submitting`` (the
        review callback, which may come before the carrier's answer, asks to be retried meanwhile), the
        carrier takes it, then CampaignSubmitted and its numbers (CampaignNumberAssigned)."""
        body, org_id, pool = cmd.campaign, cmd.org_id, self.store.pool
        campaign_id = chosen_or_new_id(cmd.campaign_id, "campaign_id")
        again = await self._campaign_again(org_id, campaign_id) if cmd.campaign_id is not None else None
        if again is not None:
            return again
        url = (await urls.check_url(body.status_callback_url, "status_callback_url", self.settings.env,
                                       self.settings.dns_timeout_s) if body.status_callback_url else None)
        brand = store.brand_state(await store.brand_row(pool, org_id, body.brand_id, field="brand_id"))
        if (unusable := model.check_brand_usable(brand)) is not None:
            raise unusable
        if body.phone_number_ids is None:  # the quickstart's way: the org's numbers on no other campaign join
            rows = await pool.fetch("SELECT id::text AS id, e164 FROM phone_numbers WHERE org_id = $1"
                                    " AND status = 'active' AND campaign_id IS NULL ORDER BY created_at, id", org_id)
        else:
            rows = await self._free_numbers(pool, org_id, body.phone_number_ids, None)
        numbers = [r["id"] for r in rows]
        fields = rules.campaign_fields(body, brand.display_name, brand.email)
        try:
            count = await store.insert_submitting(pool, campaign_id, org_id, brand.id, body.use_case, fields, url,
                                                  rules.new_webhook_secret() if url else None, utcnow())
        except asyncpg.UniqueViolationError:
            again = await self._campaign_again(org_id, campaign_id) if cmd.campaign_id is not None else None
            if again is None:
                raise
            return again
        payload = {"brand_ref": brand.carrier_ref, "entity_type": brand.entity_type,
                   "brand_campaign_count": count, "number_count": len(numbers), "use_case": body.use_case, **fields}
        try:
            ref = await self.carrier.submit_campaign(payload)
        except CarrierError as exc:
            await pool.execute("DELETE FROM campaigns WHERE id = $1", campaign_id)
            raise carrier_failure(exc) from exc
        return await self._submitted(org_id, campaign_id, ref, numbers)

    async def _submitted(self, org_id: str, campaign_id: str, ref: str, numbers: list[str]) -> CampaignView:
        """CampaignSubmitted and the campaign's numbers (those still free), in one statement."""
        now = utcnow()
        async with self.store.transaction() as conn:  # lock order: campaign, then numbers
            camp = store.campaign_state(await conn.fetchrow(store.CAMPAIGN_SELECT + " WHERE c.id = $1 FOR UPDATE OF c",
                                                            campaign_id))
            submitted = accepted(model.decide_submitted(camp, ref, now))
            still_free = await conn.fetch(  # a number another campaign took meanwhile stays there
                "SELECT id::text AS id, e164 FROM phone_numbers WHERE id = ANY($1::uuid[]) AND status = 'active'"
                " AND campaign_id IS NULL ORDER BY created_at, id FOR UPDATE", numbers)
            joining = [model.NumberRef(r["id"], r["e164"]) for r in still_free]
            assigned = accepted(model.decide_assign(model.evolve_campaign(camp, submitted[0]), joining, now,
                                                    limit=False))
            await store.record(self.store, conn, (camp.version, submitted + assigned))
            view = await self._view(conn, org_id, campaign_id)
        log.info("campaign_submitted", org_id=org_id, campaign_id=campaign_id, numbers=len(still_free))
        return view

    async def _free_numbers(self, conn: asyncpg.Connection | asyncpg.Pool, org_id: str, ids: list[str],
                            campaign_id: str | None, lock: bool = False) -> list[asyncpg.Record]:
        """The named numbers, each the org's (or 404) and on no campaign but ``campaign_id`` (or 409)."""
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
        busy = model.check_free([model.NumberRef(r["id"], r["e164"], r["campaign_id"]) for r in rows], campaign_id)
        if busy is not None:
            raise busy
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
                              next_cursor=page_cursor(rows, cmd.limit))

    async def show_campaign(self, cmd: c.ShowCampaign) -> CampaignView:
        return await self._view(self.store.pool, cmd.org_id, cmd.campaign_id)

    async def resubmit(self, cmd: c.ResubmitCampaign) -> CampaignView:
        """Edit a rejected campaign and send it back to review. The row stays locked across the carrier
        call, so the review callback (which locks it too) always sees the new submission."""
        e = cmd.edits
        url = (await urls.check_url(e.status_callback_url, "status_callback_url", self.settings.env,
                                       self.settings.dns_timeout_s) if e.status_callback_url else None)
        submission_id = chosen_id(cmd.submission_id, "submission_id") if cmd.submission_id is not None else None
        async with self.store.transaction() as conn:
            row = await store.campaign_row(conn, cmd.org_id, cmd.campaign_id, lock=True)
            camp = store.campaign_state(row, await store.numbers_on(conn, row["sid"]))
            fields, changed = (camp.fields, []) if camp.status != "rejected" else rules.apply_edits(camp.fields, e)
            r = model.edit(camp, fields, changed, e.use_case, url, submission_id)
            events = accepted(model.decide_resubmit(camp, r, utcnow()))
            if not events:
                return await self._view(conn, cmd.org_id, camp.id)  # this very resubmission happened already
            count = await conn.fetchval("SELECT count(*) FROM campaigns WHERE brand_id = $1", row["brand_id"])
            try:
                await self.carrier.submit_campaign({
                    "campaign_ref": camp.carrier_ref, "brand_ref": camp.brand.carrier_ref,
                    "entity_type": camp.brand.entity_type, "brand_campaign_count": count, "number_count": camp.numbers,
                    "use_case": r.use_case, **fields})
            except CarrierError as exc:
                raise carrier_failure(exc) from exc
            await store.record(self.store, conn, (camp.version, events),
                               sealed=store.Sealed(secret=rules.new_webhook_secret(), resubmission=r))
            view = await self._view(conn, cmd.org_id, camp.id)
        log.info("campaign_resubmitted", org_id=cmd.org_id, campaign_id=camp.id, changed=r.changed)
        return view

    # -- numbers on campaigns ------------------------------------------------------------------------
    async def assign_numbers(self, cmd: c.AssignCampaignNumbers) -> CampaignView:
        async with self.store.transaction() as conn:  # lock order: campaign, then numbers
            row = await store.campaign_row(conn, cmd.org_id, cmd.campaign_id, lock=True)
            camp = store.campaign_state(row, await store.numbers_on(conn, row["sid"]))
            rows = await self._free_numbers(conn, cmd.org_id, cmd.phone_number_ids, camp.id, lock=True)
            numbers = [model.NumberRef(r["id"], r["e164"], r["campaign_id"]) for r in rows]
            await store.record(self.store, conn, (camp.version, accepted(model.decide_assign(camp, numbers, utcnow()))))
            return await self._view(conn, cmd.org_id, camp.id)

    async def remove_number(self, cmd: c.RemoveCampaignNumber) -> CampaignView:
        async with self.store.transaction() as conn:
            camp = store.campaign_state(await store.campaign_row(conn, cmd.org_id, cmd.campaign_id, lock=True))
            ident = parse_uuid(cmd.phone_number_id)
            num = None if ident is None else await conn.fetchrow(
                "SELECT id::text AS id, e164, campaign_id::text AS campaign_id FROM phone_numbers WHERE id = $1"
                " AND org_id = $2 AND status = 'active' AND campaign_id = $3 FOR UPDATE", ident, cmd.org_id, camp.id)
            ref = None if num is None else model.NumberRef(num["id"], num["e164"], num["campaign_id"])
            await store.record(self.store, conn, (camp.version, accepted(
                model.decide_remove_number(camp, ref, cmd.phone_number_id, utcnow()))))
            return await self._view(conn, cmd.org_id, camp.id)
