"""Ordering phone numbers: search the carrier's, then order (all or nothing, paid): claim the numbers,
hold the credit (accounts), have the carrier assign them, then each becomes the organization's
(``PhoneNumberOrdered``, decided by the PhoneNumber aggregate) and the credit is captured. A crash
mid-way is undone by the sweeper: numbers back, credit refunded.

The order is the NumberOrder aggregate (``order_model.py``): placed, completed or failed, settled — its
events and its row in ``number_orders`` (their projection) in one statement. Every change of an order
first locks its row. The claims (``phone_numbers`` rows in status ``pending``) are written with the
order's placing and dropped by its failure; a number is published only once it is the organization's."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import structlog

from libs.bus.rpc import RpcClient
from libs.carrier.http_api import Carrier, CarrierError
from libs.store.eventstore import ConcurrencyError, EventStore
from proto.api import format_money
from proto.base import CommandError, accepted, new_id, parse_uuid, rfc3339, utcnow
from proto.commands import numbers as c
from proto.commands.accounts import ReserveCredit, SettleCredit
from proto.http.numbers import AvailableNumberView, OrderView
from services.numbers import model, order_model, rules, store
from services.numbers.config import NumbersSettings
from services.numbers.context import Handlers
from services.numbers.handlers import carrier_failure

log = structlog.get_logger(__name__)

_CARRIER_FIELDS = {"invalid_area_code": ("area_code", "is not a valid NANP area code"),
                   "invalid_quantity": ("quantity", "must be 1 to 100"),
                   "invalid_contains": ("contains", "must be digits")}


def unavailable(numbers: list[str]) -> CommandError:
    return CommandError("NUMBER_UNAVAILABLE", "these numbers are no longer available: " + ", ".join(numbers)
                        + "; nothing was ordered", 409, {"unavailable": numbers})


class Orders(Handlers):
    def __init__(self, store_: EventStore, settings: NumbersSettings, carrier: Carrier, rpc: RpcClient):
        super().__init__(store_, settings, carrier)
        self.rpc = rpc

    async def search(self, cmd: c.SearchNumbers) -> c.SearchResult:
        area = rules.check_area_code(cmd.area_code)
        if not 1 <= cmd.quantity <= 100:
            raise rules.invalid("quantity", "must be 1 to 100")
        region = cmd.region.upper() if cmd.region else None
        try:
            found = await self.carrier.available_numbers(area, 100 if region else cmd.quantity, cmd.contains)
        except CarrierError as exc:
            err = exc.body.get("error") if isinstance(exc.body, dict) else None
            if not exc.transient and err in _CARRIER_FIELDS:
                raise rules.invalid(*_CARRIER_FIELDS[str(err)]) from exc
            raise carrier_failure(exc) from exc
        price = format_money(self.settings.number_monthly_price_micros)
        out = [AvailableNumberView(phone_number=n.e164, region=n.region, locality=n.locality,
                                   capabilities=list(n.capabilities), monthly_price=price)
               for n in found if region is None or n.region.upper() == region]
        return c.SearchResult(data=out[: cmd.quantity])

    async def order(self, cmd: c.OrderNumbers) -> OrderView:
        numbers = rules.order_numbers(cmd.numbers, self.settings.max_numbers_per_order)
        org_id, order_id, now = cmd.org_id, new_id(), utcnow()
        if cmd.order_id is not None:
            chosen = parse_uuid(cmd.order_id)
            if chosen is None:
                raise rules.invalid("order_id", "must be a UUID")
            again = await self._order_again(org_id, chosen)
            if again is not None:
                return again
            if not await self.store.pool.fetchval("SELECT 1 FROM number_orders WHERE id = $1", chosen):
                order_id = chosen  # else it failed, undone and refunded: this retry is a new order
        price = self.settings.number_monthly_price_micros
        amount = price * len(numbers)
        ids = {e: new_id() for e in numbers}
        await self._claim(org_id, order_id, ids, amount, now)  # 1. claim: the unique index lets one org win a race
        try:  # 2. pay
            await self.rpc.call(ReserveCredit(
                org_id=org_id, reservation_id=f"number-order-{order_id}", amount_micros=amount,
                reason=f"{len(numbers)} phone number(s), first month", reference=order_id))
        except CommandError:
            await self._fail_order(order_id, org_id, "credit")
            raise
        try:  # 3. the carrier assigns them (all or nothing, idempotent per account)
            await self.carrier.assign_numbers(numbers, org_id)
        except CarrierError as exc:
            await self._fail_order(order_id, org_id, "carrier", carrier_numbers=numbers if exc.transient else [])
            body = exc.body if isinstance(exc.body, dict) else {}
            if not exc.transient and exc.status == 409:
                raise unavailable(list(body.get("unavailable") or numbers)) from exc
            raise carrier_failure(exc) from exc
        rows = await self._complete(org_id, order_id, ids, price, now)  # 4. they are the org's
        if rows is None:  # undone meanwhile: what this process did since is given back too
            log.warning("number_order_undone_meanwhile", org_id=org_id, order_id=order_id)
            await self._fail_order(order_id, org_id, "abandoned", carrier_numbers=numbers)
            raise order_model.undone()
        await self._settle(order_id, org_id, capture=True)
        log.info("numbers_ordered", org_id=org_id, order_id=order_id, count=len(numbers))
        by_e164 = {r["e164"]: store.number_view(r) for r in rows}
        return OrderView(id=order_id, status="completed", phone_numbers=[by_e164[e] for e in numbers],
                         total_monthly_price=format_money(amount), created_at=rfc3339(now))

    async def _complete(self, org_id: str, order_id: str, ids: dict[str, str], price: int,
                        now: datetime) -> list[asyncpg.Record] | None:
        """The order's numbers become the organization's; None when the order is not pending any more
        (taken for dead and undone while this process waited)."""
        async with self.store.transaction() as conn:
            order = await store.order_state(conn, org_id, order_id, lock=True)
            done = order_model.decide_complete(order, now) if order is not None else order_model.undone()
            if order is None or isinstance(done, CommandError):
                return None
            # locks in one order everywhere: the order, the campaign, then the numbers
            await self._join_only_campaign(conn, org_id, [model.NumberRef(i, e) for e, i in ids.items()], now)
            claimed = [model.NumberState(id=i, org_id=org_id, e164=e, status="pending") for e, i in ids.items()]
            await store.record(self.store, conn, (order.version, done), *[  # the order and its numbers: one statement
                (0, accepted(model.decide_ordered(n, order_id, price, now))) for n in claimed])
            rows: list[asyncpg.Record] = await conn.fetch(
                store.NUMBER_SELECT + " WHERE n.order_id = $1 ORDER BY n.e164", order_id)
        return rows

    async def _claim(self, org_id: str, order_id: str, ids: dict[str, str], amount: int, now: datetime) -> None:
        """The order and a pending claim on each number, all or none (409 NUMBER_UNAVAILABLE)."""
        numbers = list(ids)
        placed = accepted(order_model.decide_place(None, org_id, order_id, numbers, amount, now))
        async with self.store.transaction() as conn:
            try:
                await store.record(self.store, conn, (0, placed))
            except (asyncpg.UniqueViolationError, ConcurrencyError):  # the same order, placed concurrently
                raise order_model.in_flight() from None
            taken = []
            for e164 in sorted(numbers):  # one lock order: two overlapping orders cannot deadlock
                region, locality = rules.describe_number(e164)
                got = await conn.fetchval(
                    "INSERT INTO phone_numbers (id, org_id, e164, status, order_id, monthly_price_micros, region,"
                    " locality, created_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8)"
                    " ON CONFLICT (e164) WHERE status <> 'released' DO NOTHING RETURNING id",
                    ids[e164], org_id, e164, order_id, self.settings.number_monthly_price_micros, region, locality,
                    now)
                if got is None:
                    taken.append(e164)
            if taken:
                raise unavailable([n for n in numbers if n in taken])

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
                raise order_model.in_flight()
            # its process died mid-way: undo it (numbers back, credit refunded) and let this repeat order again
            if await self._fail_order(order_id, org_id, "abandoned", carrier_numbers=list(row["numbers"])):
                return None
            return await self._order_again(org_id, order_id)  # it completed meanwhile after all
        rows = await self.store.pool.fetch(store.NUMBER_SELECT + " WHERE n.order_id = $1 ORDER BY n.e164", order_id)
        by_e164 = {r["e164"]: store.number_view(r) for r in rows}
        return OrderView(id=order_id, status=row["status"],  # completed
                         phone_numbers=[by_e164[e] for e in row["numbers"] if e in by_e164],
                         total_monthly_price=format_money(row["amount_micros"]), created_at=rfc3339(row["created_at"]))

    async def _join_only_campaign(self, conn: asyncpg.Connection, org_id: str, numbers: list[model.NumberRef],
                                  now: datetime) -> None:
        """Numbers ordered later join the organization's only campaign (a sole proprietor's only while it
        has no number yet)."""
        camps = await conn.fetch("SELECT id::text AS id FROM campaigns WHERE org_id = $1 AND status <> 'submitting'"
                                 " LIMIT 2", org_id)
        if len(camps) != 1:
            return
        row = await store.campaign_row(conn, org_id, camps[0]["id"], lock=True)
        camp = store.campaign_state(row, await store.numbers_on(conn, row["sid"]))
        left = model.room(camp)
        joining = numbers if left is None else numbers[:left]
        await store.record(self.store, conn, (camp.version, accepted(model.decide_assign(camp, joining, now))))

    async def _fail_order(self, order_id: str, org_id: str, reason: str,
                          carrier_numbers: list[str] | None = None) -> bool:
        """Undo an order: give the numbers back, refund the credit, drop the claims. The order's row stays
        locked until it is marked failed, so its own process cannot complete it meanwhile (and a crash
        before leaves it pending, to be undone again). Answers whether this call undid it. A completed
        order is left alone; one undone already (while its process went on) has what that process did
        since given back: numbers assigned to no claim of the organization now, and the credit."""
        async with self.store.transaction() as conn:
            order = await store.order_state(conn, org_id, order_id, lock=True)
            failed = order_model.decide_fail(order, reason, utcnow()) if order is not None else []
            if isinstance(failed, CommandError):  # completed
                return False
            if order is not None and failed:
                await self._release(order_id, org_id, carrier_numbers or [])
                await store.record(self.store, conn, (order.version, failed))  # (its claims dropped)
        if not failed and carrier_numbers:
            held = {r["e164"] for r in await self.store.pool.fetch(
                "SELECT e164 FROM phone_numbers WHERE org_id = $1 AND e164 = ANY($2::text[]) AND status <> 'released'",
                org_id, carrier_numbers)}
            await self._release(order_id, org_id, [e for e in carrier_numbers if e not in held])
        await self._settle(order_id, org_id, capture=False)  # (idempotent: once more is no second refund)
        log.info("number_order_failed", org_id=org_id, order_id=order_id, reason=reason)
        return bool(failed)

    async def _release(self, order_id: str, org_id: str, numbers: list[str]) -> None:
        for e164 in numbers:  # the carrier may have assigned them before timing out
            try:
                await self.carrier.release_number(e164, org_id)
            except CarrierError as exc:
                log.warning("order_undo_release_failed", order_id=order_id, number=e164, error=str(exc))

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
        order = await store.order_state(self.store.pool, org_id, order_id)  # ended: no other change but this
        settled = order_model.decide_settle(order, capture, utcnow()) if order is not None else []
        if isinstance(settled, CommandError):
            log.warning("order_settle_refused", order_id=order_id, capture=capture, error=settled.message)
        elif order is not None:
            try:
                await store.record(self.store, None, (order.version, settled))
            except ConcurrencyError:  # settled by another meanwhile (its process, the sweeper)
                pass

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
                    await self._fail_order(r["id"], r["org_id"], "abandoned", carrier_numbers=list(r["numbers"]))
                else:
                    await self._settle(r["id"], r["org_id"], capture=r["status"] == "completed")
            await asyncio.sleep(5)

