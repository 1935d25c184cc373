"""Phone-number handlers: configure, rotate webhook secrets, release, and the lookups other services make.
load → decide (model.PhoneNumber) → append and project (store.record) in one transaction; the row lock
taken first makes the row's version the stream's expected version. Ordering is in ``orders.py``."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import structlog

from libs.carrier.http_api import CarrierError
from libs.webhooks import urls
from proto.base import CommandError, NotFound, accepted, parse_uuid, utcnow
from proto.commands import numbers as c
from proto.http.numbers import NumberView
from services.numbers import model, rules, store
from services.numbers.context import Handlers

log = structlog.get_logger(__name__)


def carrier_failure(exc: CarrierError) -> CommandError:
    if exc.transient:
        return CommandError("CARRIER_UNAVAILABLE", "the carrier did not answer; retry", 503)
    return CommandError("CARRIER_ERROR", f"the carrier refused the request ({exc})", 502,
                        {"carrier_status": exc.status})


class Numbers(Handlers):
    # -- manage --------------------------------------------------------------------------------------
    async def list(self, cmd: c.ListNumbers) -> c.NumberPage:
        rows, nxt = await store.numbers_page(self.store.pool, cmd.org_id, cmd.limit, cmd.cursor)
        return c.NumberPage(data=[store.number_view(r) for r in rows], next_cursor=nxt)

    async def show(self, cmd: c.ShowNumber) -> NumberView:
        return store.number_view(await store.number_row(self.store.pool, cmd.org_id, cmd.phone_number_id))

    async def configure(self, cmd: c.ConfigureNumber) -> NumberView:
        p, env, dns = cmd.patch, self.settings.env, self.settings.dns_timeout_s
        wanted: dict[str, Any] = {}
        for name in ("inbound_url", "status_callback_url"):
            value = getattr(p, name)
            if value is not msgspec.UNSET:
                wanted[name] = await urls.check_url(value, name, env, dns) if value else None
        if p.friendly_name is not msgspec.UNSET:
            wanted["friendly_name"] = (p.friendly_name or "").strip() or None
        async with self.store.transaction() as conn:
            row = await store.number_row(conn, cmd.org_id, cmd.phone_number_id, lock=True)
            s = store.number_state(row)
            events = accepted(model.decide_configure(s, wanted, utcnow()))
            await store.record(self.store, conn, (s.version, events), sealed=store.Sealed(secret=rules.new_webhook_secret()))
            row = await store.number_row(conn, cmd.org_id, row["id"])
        return store.number_view(row)

    async def rotate_secret(self, cmd: c.RotateWebhookSecret) -> NumberView:
        rotation_id = parse_uuid(cmd.rotation_id) if cmd.rotation_id is not None else None
        if cmd.rotation_id is not None and rotation_id is None:
            raise rules.invalid("rotation_id", "must be a UUID")
        async with self.store.transaction() as conn:
            row = await store.number_row(conn, cmd.org_id, cmd.phone_number_id, lock=True)
            s = store.number_state(row)
            events = accepted(model.decide_rotate_secret(s, rotation_id, self.settings.webhook_secret_grace_s,
                                                         utcnow()))
            if not events:
                return store.number_view(row)  # this very rotation happened already: not twice
            await store.record(self.store, conn, (s.version, events), sealed=store.Sealed(
                secret=rules.new_webhook_secret(), rotation=True, rotation_id=rotation_id))
            row = await store.number_row(conn, cmd.org_id, row["id"])
        log.info("webhook_secret_rotated", org_id=cmd.org_id, phone_number_id=row["id"])
        return store.number_view(row)

    async def release(self, cmd: c.ReleaseNumber) -> NumberView:
        peek = await store.number_row(self.store.pool, cmd.org_id, cmd.phone_number_id)
        now = utcnow()
        async with self.store.transaction() as conn:
            camp = None
            if peek["campaign_id"]:  # locks in one order everywhere: campaign, then number
                camp = store.campaign_state(await store.campaign_row(conn, cmd.org_id, peek["campaign_id"], lock=True))
            row = await store.number_row(conn, cmd.org_id, cmd.phone_number_id, lock=True)
            if row["campaign_id"] != peek["campaign_id"]:
                raise CommandError("CONFLICT", "the number changed while releasing it; retry", 409)
            s = store.number_state(row)
            released = accepted(model.decide_release(s, now))
            removed = [] if camp is None else accepted(model.decide_remove_number(
                camp, model.NumberRef(s.id, s.e164, s.campaign_id), s.id, now, reason="number released"))
            try:
                await self.carrier.release_number(row["e164"], cmd.org_id)
            except CarrierError as exc:
                raise carrier_failure(exc) from exc
            await store.record(self.store, conn, (s.version, released), (camp.version if camp else 0, removed))
        log.info("number_released", org_id=cmd.org_id, phone_number_id=row["id"])
        view = store.number_view(row)
        return msgspec.structs.replace(view, status="released", campaign_id=None, sending_enabled=False,
                                       webhook_secret=None, previous_webhook_secret_expires_at=None)

    # -- lookups for other services -----------------------------------------------------------------
    async def _active_by_e164(self, e164: str, org_id: str | None = None) -> asyncpg.Record:
        row = await self.store.pool.fetchrow(
            store.NUMBER_SELECT + " WHERE n.e164 = $1 AND n.status = 'active' AND ($2::uuid IS NULL OR n.org_id = $2)",
            e164, org_id)
        if row is None:
            raise NotFound("phone number", {"e164": e164})
        return row

    async def resolve_inbound(self, cmd: c.ResolveInbound) -> c.InboundRoute:
        r = await self._active_by_e164(cmd.e164)
        return c.InboundRoute(
            org_id=r["org_id"], phone_number_id=r["id"], e164=r["e164"], inbound_url=r["inbound_url"],
            webhook_secrets=rules.active_secrets(r["webhook_secret"], r["previous_secret"],
                                                 r["previous_secret_expires_at"], utcnow()))

    async def get_number(self, cmd: c.GetNumber) -> c.NumberRef:
        """By phone_number_id; the id of a one-number order is accepted too, so "the id from your order
        response" (quickstart step 5) works whichever id the reader picks."""
        try:
            r = await store.number_row(self.store.pool, cmd.org_id, cmd.phone_number_id)
        except NotFound:
            ident = parse_uuid(cmd.phone_number_id)
            rows = [] if ident is None else await self.store.pool.fetch(
                "SELECT id::text AS id, e164, org_id::text AS org_id FROM phone_numbers"
                " WHERE order_id = $1 AND org_id = $2 AND status = 'active' LIMIT 2", ident, cmd.org_id)
            if len(rows) != 1:
                raise
            r = rows[0]
        return c.NumberRef(id=r["id"], e164=r["e164"], org_id=r["org_id"])

    async def sender_status(self, cmd: c.SenderStatus) -> c.SenderInfo:
        if parse_uuid(cmd.org_id) is None:
            raise NotFound("phone number", {"e164": cmd.e164})
        r = await self._active_by_e164(cmd.e164, cmd.org_id)
        pool = self.store.pool
        # the campaign with its brand's facts (CAMPAIGN_SELECT joins them)
        camp = await pool.fetchrow(store.CAMPAIGN_SELECT + " WHERE c.id = $1", r["campaign_id"]) \
            if r["campaign_id"] else None
        has_brand = camp is not None or bool(await pool.fetchval("SELECT 1 FROM brands WHERE org_id = $1 LIMIT 1",
                                                                 cmd.org_id))
        has_campaign = camp is not None or bool(await pool.fetchval(
            "SELECT 1 FROM campaigns WHERE org_id = $1 AND status <> 'submitting' LIMIT 1", cmd.org_id))
        status = None if camp is None else ("pending_review" if camp["status"] == "submitting" else camp["status"])
        gate = rules.send_gate(has_brand=has_brand, has_campaign=has_campaign, campaign_id=r["campaign_id"],
                               campaign_status=status, rejection_reasons=store.reasons_of(camp) if camp else [])
        info = c.SenderInfo(
            phone_number_id=r["id"], e164=r["e164"], sending_enabled=gate.sending_enabled,
            reason_code=gate.reason_code, reason=gate.reason, details=gate.details, campaign_id=r["campaign_id"],
            status_callback_url=r["status_callback_url"],
            webhook_secrets=rules.active_secrets(r["webhook_secret"], r["previous_secret"],
                                                 r["previous_secret_expires_at"], utcnow()))
        if camp is not None:
            f = store.fields_of(camp)
            score = camp["vetting_score"]
            info = msgspec.structs.replace(
                info, brand_id=camp["sbrand_id"], brand_name=camp["brand_name"], help_message=f.get("help_message"),
                opt_out_message=f.get("opt_out_message"), throughput_mpm=rules.throughput_mpm(score, camp["use_case"]),
                daily_cap=rules.daily_cap(score))
        return info
