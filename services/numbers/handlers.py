"""Phone-number handlers: search, order (all or nothing, paid), configure, rotate secrets, release, and the
lookups other services make. Each change appends its events and updates the read model in one
transaction; the row lock taken first makes the row's version the stream's expected version."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import structlog

from libs.bus.rpc import RpcClient
from libs.carrier.adapter import Carrier, CarrierError
from libs.store.eventstore import EventStore
from libs.webhooks import urls
from proto.api import format_money
from proto.base import CommandError, Event, NotFound, new_id, parse_uuid, rfc3339, utcnow
from proto.commands import numbers as c
from proto.commands.accounts import ReserveCredit, SettleCredit
from proto.events.numbers import (
    CampaignNumberAssigned,
    CampaignNumberRemoved,
    PhoneNumberConfigured,
    PhoneNumberOrdered,
    PhoneNumberReleased,
    WebhookSecretRotated,
)
from proto.http.numbers import AvailableNumberView, NumberView, OrderView
from services.numbers import model, store
from services.numbers.config import NumbersSettings

log = structlog.get_logger(__name__)

_CARRIER_FIELDS = {"invalid_area_code": ("area_code", "is not a valid NANP area code"),
                   "invalid_quantity": ("quantity", "must be 1 to 100"),
                   "invalid_contains": ("contains", "must be digits")}


def carrier_failure(exc: CarrierError) -> CommandError:
    if exc.transient:
        return CommandError("CARRIER_UNAVAILABLE", "the carrier did not answer; retry", 503)
    return CommandError("CARRIER_ERROR", f"the carrier refused the request ({exc})", 502,
                        {"carrier_status": exc.status})


def unavailable(numbers: list[str]) -> CommandError:
    return CommandError("NUMBER_UNAVAILABLE", "these numbers are no longer available: " + ", ".join(numbers)
                        + "; nothing was ordered", 409, {"unavailable": numbers})


async def append(store_: EventStore, conn: asyncpg.Connection, table: str, stream: str, row_id: str,
                 version: int, events: list[Event]) -> int:
    """Append to an aggregate's stream at the row's version and move the row's version along."""
    new_version = await store_.append(conn, stream, version, events)
    await conn.execute(f"UPDATE {table} SET version = $2 WHERE id = $1", row_id, new_version)
    return new_version


async def assign_to_campaign(store_: EventStore, conn: asyncpg.Connection, org_id: str, campaign_id: str,
                             version: int, numbers: list[tuple[str, str]]) -> int:
    """Put (id, e164) numbers on a campaign whose row the caller has locked."""
    if not numbers:
        return version
    await conn.execute("UPDATE phone_numbers SET campaign_id = $1 WHERE id = ANY($2::uuid[])",
                       campaign_id, [n[0] for n in numbers])
    return await append(store_, conn, "campaigns", f"campaign-{campaign_id}", campaign_id, version, [
        CampaignNumberAssigned(org_id=org_id, campaign_id=campaign_id, phone_number_id=i, e164=e) for i, e in numbers
    ])


class Numbers:
    def __init__(self, store_: EventStore, settings: NumbersSettings, carrier: Carrier, rpc: RpcClient):
        self.store = store_
        self.settings = settings
        self.carrier = carrier
        self.rpc = rpc

    # -- search and order --------------------------------------------------------------------------
    async def search(self, cmd: c.SearchNumbers) -> c.SearchResult:
        area = model.check_area_code(cmd.area_code)
        if not 1 <= cmd.quantity <= 100:
            raise model.invalid("quantity", "must be 1 to 100")
        region = cmd.region.upper() if cmd.region else None
        try:
            found = await self.carrier.available_numbers(area, 100 if region else cmd.quantity, cmd.contains)
        except CarrierError as exc:
            err = exc.body.get("error") if isinstance(exc.body, dict) else None
            if not exc.transient and err in _CARRIER_FIELDS:
                raise model.invalid(*_CARRIER_FIELDS[str(err)]) from exc
            raise carrier_failure(exc) from exc
        price = format_money(self.settings.number_monthly_price_micros)
        out = [AvailableNumberView(phone_number=n.e164, region=n.region, locality=n.locality,
                                   capabilities=list(n.capabilities), monthly_price=price)
               for n in found if region is None or n.region.upper() == region]
        return c.SearchResult(data=out[: cmd.quantity])

    async def order(self, cmd: c.OrderNumbers) -> OrderView:
        numbers = model.order_numbers(cmd.numbers, self.settings.max_numbers_per_order)
        org_id, order_id, now = cmd.org_id, new_id(), utcnow()
        if cmd.order_id is not None:
            chosen = parse_uuid(cmd.order_id)
            if chosen is None:
                raise model.invalid("order_id", "must be a UUID")
            again = await self._order_again(org_id, chosen)
            if again is not None:
                return again
            if not await self.store.pool.fetchval("SELECT 1 FROM number_orders WHERE id = $1", chosen):
                order_id = chosen  # else it failed, undone and refunded: this retry is a new order
        price = self.settings.number_monthly_price_micros
        amount = price * len(numbers)
        ids = {e: new_id() for e in numbers}
        async with self.store.transaction() as conn:  # 1. claim: the unique index lets one org win a race
            try:
                await conn.execute(
                    "INSERT INTO number_orders (id, org_id, status, numbers, amount_micros, created_at)"
                    " VALUES ($1, $2, 'pending', $3, $4, $5)", order_id, org_id, numbers, amount, now)
            except asyncpg.UniqueViolationError:  # the same order, placed concurrently
                raise CommandError("IDEMPOTENCY_IN_FLIGHT", "this order is still being placed; retry shortly", 409,
                                   {"retry_after_s": 2}) from None
            taken = []
            for e164 in sorted(numbers):  # one lock order: two overlapping orders cannot deadlock
                region, locality = model.describe_number(e164)
                got = await conn.fetchval(
                    "INSERT INTO phone_numbers (id, org_id, e164, status, order_id, monthly_price_micros, region,"
                    " locality, created_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8)"
                    " ON CONFLICT (e164) WHERE status <> 'released' DO NOTHING RETURNING id",
                    ids[e164], org_id, e164, order_id, price, region, locality, now)
                if got is None:
                    taken.append(e164)
            if taken:
                raise unavailable([n for n in numbers if n in taken])
        reservation_id = f"number-order-{order_id}"
        try:  # 2. pay
            await self.rpc.call(ReserveCredit(
                org_id=org_id, reservation_id=reservation_id, amount_micros=amount,
                reason=f"{len(numbers)} phone number(s), first month", reference=order_id))
        except CommandError:
            await self._fail_order(order_id, org_id)
            raise
        try:  # 3. the carrier assigns them (all or nothing, idempotent per account)
            await self.carrier.assign_numbers(numbers, org_id)
        except CarrierError as exc:
            await self._fail_order(order_id, org_id, carrier_numbers=numbers if exc.transient else [])
            body = exc.body if isinstance(exc.body, dict) else {}
            if not exc.transient and exc.status == 409:
                raise unavailable(list(body.get("unavailable") or numbers)) from exc
            raise carrier_failure(exc) from exc
        async with self.store.transaction() as conn:  # 4. they are the org's
            await conn.execute("UPDATE number_orders SET status = 'completed' WHERE id = $1", order_id)
            await self._join_only_campaign(conn, org_id, [(ids[e], e) for e in numbers])  # locks: campaign first
            await conn.execute("UPDATE phone_numbers SET status = 'active' WHERE order_id = $1", order_id)
            for e164 in numbers:
                await append(self.store, conn, "phone_numbers", f"phone_number-{ids[e164]}", ids[e164], 0, [
                    PhoneNumberOrdered(org_id=org_id, phone_number_id=ids[e164], e164=e164, order_id=order_id,
                                       monthly_price_micros=price, capabilities=["sms", "mms"], occurred_at=now)
                ])
            rows = await conn.fetch(store.NUMBER_SELECT + " WHERE n.order_id = $1 ORDER BY n.e164", order_id)
        await self._settle(order_id, org_id, capture=True)
        log.info("numbers_ordered", org_id=org_id, order_id=order_id, count=len(numbers))
        by_e164 = {r["e164"]: store.number_view(r) for r in rows}
        return OrderView(id=order_id, status="completed", phone_numbers=[by_e164[e] for e in numbers],
                         total_monthly_price=format_money(amount), created_at=rfc3339(now))

    async def _order_again(self, org_id: str, order_id: str) -> OrderView | None:
        """The order a repeat (same chosen id) placed, when it completed; 409 while it is being placed;
        None when there is none, or it failed (then nothing was ordered, nothing kept)."""
        row = await self.store.pool.fetchrow(
            "SELECT org_id::text AS org_id, status, numbers, amount_micros, created_at FROM number_orders WHERE id = $1",
            order_id)
        if row is None or row["status"] == "failed":
            return None
        if row["org_id"] != org_id:
            raise CommandError("CONFLICT", "order_id: already used", 409)
        if row["status"] == "pending":
            if utcnow() - row["created_at"] < timedelta(seconds=self.settings.abandoned_after_s):
                raise CommandError("IDEMPOTENCY_IN_FLIGHT", "this order is still being placed; retry shortly", 409,
                                   {"retry_after_s": 2})
            # its process died mid-way: undo it (numbers back, credit refunded) and let this repeat order again
            await self._fail_order(order_id, org_id, carrier_numbers=list(row["numbers"]))
            return None
        rows = await self.store.pool.fetch(store.NUMBER_SELECT + " WHERE n.order_id = $1 ORDER BY n.e164", order_id)
        by_e164 = {r["e164"]: store.number_view(r) for r in rows}
        return OrderView(id=order_id, status=row["status"],  # completed
                         phone_numbers=[by_e164[e] for e in row["numbers"] if e in by_e164],
                         total_monthly_price=format_money(row["amount_micros"]), created_at=rfc3339(row["created_at"]))

    async def _join_only_campaign(self, conn: asyncpg.Connection, org_id: str, numbers: list[tuple[str, str]]) -> None:
        """Numbers ordered later join the organization's only campaign (a sole proprietor's only while it
        has no number yet)."""
        camps = await conn.fetch(
            "SELECT c.id::text AS id, c.version, b.entity_type FROM campaigns c JOIN brands b ON b.id = c.brand_id"
            " WHERE c.org_id = $1 AND c.status <> 'submitting' LIMIT 2", org_id)
        if len(camps) != 1:
            return
        camp = await conn.fetchrow("SELECT id::text AS id, version FROM campaigns WHERE id = $1 FOR UPDATE",
                                   camps[0]["id"])
        if camps[0]["entity_type"] == "SOLE_PROPRIETOR":
            held = await conn.fetchval("SELECT count(*) FROM phone_numbers WHERE campaign_id = $1 AND status = 'active'",
                                       camp["id"])
            numbers = numbers[: max(0, 1 - held)]
        await assign_to_campaign(self.store, conn, org_id, camp["id"], camp["version"], numbers)

    async def _fail_order(self, order_id: str, org_id: str, carrier_numbers: list[str] | None = None) -> None:
        """Undo an order: give the numbers back, refund the credit, drop the claims."""
        for e164 in carrier_numbers or []:  # the carrier may have assigned them before timing out
            try:
                await self.carrier.release_number(e164, org_id)
            except CarrierError as exc:
                log.warning("order_undo_release_failed", order_id=order_id, number=e164, error=str(exc))
        async with self.store.transaction() as conn:
            await conn.execute("DELETE FROM phone_numbers WHERE order_id = $1 AND status = 'pending'", order_id)
            await conn.execute("UPDATE number_orders SET status = 'failed' WHERE id = $1", order_id)
        await self._settle(order_id, org_id, capture=False)
        log.info("number_order_failed", org_id=org_id, order_id=order_id)

    async def _settle(self, order_id: str, org_id: str, *, capture: bool) -> None:
        """Capture or refund the order's credit; the sweeper retries when accounts is not answering."""
        try:
            await self.rpc.call(SettleCredit(
                org_id=org_id, reservation_id=f"number-order-{order_id}", capture=capture,
                reason="phone numbers ordered" if capture else "number order failed"))
        except CommandError as exc:
            if exc.code != "NOT_FOUND":  # NOT_FOUND: nothing was ever reserved
                log.warning("order_settle_failed", order_id=order_id, capture=capture, error=exc.code)
                return
        await self.store.pool.execute("UPDATE number_orders SET settled = true WHERE id = $1", order_id)

    async def sweep_orders(self) -> None:
        """Finish what a crash interrupted: stale pending orders are undone, unsettled credit settled."""
        while True:
            stale = timedelta(seconds=self.settings.pending_order_timeout_s)
            rows = await self.store.pool.fetch(
                "SELECT id::text AS id, org_id::text AS org_id, status, numbers FROM number_orders"
                " WHERE NOT settled AND (status <> 'pending' OR created_at < $1) LIMIT 50", utcnow() - stale)
            await self.store.pool.execute(  # a campaign whose submission died half-way
                "DELETE FROM campaigns WHERE status = 'submitting' AND created_at < now() - interval '10 minutes'")
            for r in rows:
                if r["status"] == "pending":
                    await self._fail_order(r["id"], r["org_id"], carrier_numbers=list(r["numbers"]))
                else:
                    await self._settle(r["id"], r["org_id"], capture=r["status"] == "completed")
            await asyncio.sleep(5)

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
            changed = {k: v for k, v in wanted.items() if row[k] != v}
            events: list[Event] = []
            if changed:
                sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changed, start=2))
                await conn.execute(f"UPDATE phone_numbers SET {sets} WHERE id = $1", row["id"], *changed.values())
                new = {k: changed.get(k, row[k]) for k in ("friendly_name", "inbound_url", "status_callback_url")}
                events.append(PhoneNumberConfigured(org_id=cmd.org_id, phone_number_id=row["id"], e164=row["e164"],
                                                    changed=sorted(changed), **new))
            if changed.get("inbound_url") and row["webhook_secret"] is None:
                await conn.execute("UPDATE phone_numbers SET webhook_secret = $2 WHERE id = $1", row["id"],
                                   model.new_webhook_secret())
                events.append(WebhookSecretRotated(org_id=cmd.org_id, phone_number_id=row["id"], e164=row["e164"],
                                                   first=True))
            await append(self.store, conn, "phone_numbers", f"phone_number-{row['id']}", row["id"], row["version"],
                         events)
            row = await store.number_row(conn, cmd.org_id, row["id"])
        return store.number_view(row)

    async def rotate_secret(self, cmd: c.RotateWebhookSecret) -> NumberView:
        now = utcnow()
        grace_until = now + timedelta(seconds=self.settings.webhook_secret_grace_s)
        rotation_id = parse_uuid(cmd.rotation_id) if cmd.rotation_id is not None else None
        if cmd.rotation_id is not None and rotation_id is None:
            raise model.invalid("rotation_id", "must be a UUID")
        async with self.store.transaction() as conn:
            row = await store.number_row(conn, cmd.org_id, cmd.phone_number_id, lock=True)
            if rotation_id is not None and str(await conn.fetchval(
                    "SELECT last_rotation_id FROM phone_numbers WHERE id = $1", row["id"])) == rotation_id:
                return store.number_view(row)  # this very rotation happened already: not twice
            first = row["webhook_secret"] is None
            await conn.execute(
                "UPDATE phone_numbers SET webhook_secret = $2, previous_secret = $3, previous_secret_expires_at = $4,"
                " last_rotation_id = $5 WHERE id = $1", row["id"], model.new_webhook_secret(), row["webhook_secret"],
                None if first else grace_until, rotation_id)
            await append(self.store, conn, "phone_numbers", f"phone_number-{row['id']}", row["id"], row["version"], [
                WebhookSecretRotated(org_id=cmd.org_id, phone_number_id=row["id"], e164=row["e164"], first=first,
                                     grace_until=None if first else grace_until, occurred_at=now)
            ])
            row = await store.number_row(conn, cmd.org_id, row["id"])
        log.info("webhook_secret_rotated", org_id=cmd.org_id, phone_number_id=row["id"])
        return store.number_view(row)

    async def release(self, cmd: c.ReleaseNumber) -> NumberView:
        peek = await store.number_row(self.store.pool, cmd.org_id, cmd.phone_number_id)
        async with self.store.transaction() as conn:
            camp = None
            if peek["campaign_id"]:  # locks in one order everywhere: campaign, then number
                camp = await conn.fetchrow("SELECT id::text AS id, version FROM campaigns WHERE id = $1 FOR UPDATE",
                                           peek["campaign_id"])
            row = await store.number_row(conn, cmd.org_id, cmd.phone_number_id, lock=True)
            if row["campaign_id"] != peek["campaign_id"]:
                raise CommandError("CONFLICT", "the number changed while releasing it; retry", 409)
            try:
                await self.carrier.release_number(row["e164"], cmd.org_id)
            except CarrierError as exc:
                raise carrier_failure(exc) from exc
            await conn.execute(
                "UPDATE phone_numbers SET status = 'released', released_at = now(), campaign_id = NULL,"
                " webhook_secret = NULL, previous_secret = NULL WHERE id = $1", row["id"])
            await append(self.store, conn, "phone_numbers", f"phone_number-{row['id']}", row["id"], row["version"], [
                PhoneNumberReleased(org_id=cmd.org_id, phone_number_id=row["id"], e164=row["e164"])
            ])
            if camp is not None:
                await append(self.store, conn, "campaigns", f"campaign-{camp['id']}", camp["id"], camp["version"], [
                    CampaignNumberRemoved(org_id=cmd.org_id, campaign_id=camp["id"], phone_number_id=row["id"],
                                          e164=row["e164"], reason="number released")
                ])
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
            webhook_secrets=model.active_secrets(r["webhook_secret"], r["previous_secret"],
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
        gate = model.send_gate(has_brand=has_brand, has_campaign=has_campaign, campaign_id=r["campaign_id"],
                               campaign_status=status, rejection_reasons=store.reasons_of(camp) if camp else [])
        info = c.SenderInfo(
            phone_number_id=r["id"], e164=r["e164"], sending_enabled=gate.sending_enabled,
            reason_code=gate.reason_code, reason=gate.reason, details=gate.details, campaign_id=r["campaign_id"],
            status_callback_url=r["status_callback_url"],
            webhook_secrets=model.active_secrets(r["webhook_secret"], r["previous_secret"],
                                                 r["previous_secret_expires_at"], utcnow()))
        if camp is not None:
            f = store.fields_of(camp)
            score = camp["vetting_score"]
            info = msgspec.structs.replace(
                info, brand_id=camp["sbrand_id"], brand_name=camp["brand_name"], help_message=f.get("help_message"),
                opt_out_message=f.get("opt_out_message"), throughput_mpm=model.throughput_mpm(score, camp["use_case"]),
                daily_cap=model.daily_cap(score))
        return info
