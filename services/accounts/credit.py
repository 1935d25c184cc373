"""accounts command handlers for prepaid credit: hold (reserve), capture or release (settle), and the
statement (balance). load → decide (model) → append and project in one transaction; holding credit for a
batch of sends is one statement (``store.hold_together``), whatever the batch's size."""

from __future__ import annotations

import asyncpg

from libs.store import ConcurrencyError
from libs.store.eventstore import EventStore
from libs.store.processed import claim_many
from proto.api import format_money, page_cursor
from proto.base import CommandError, accepted, parse_uuid, rfc3339, utcnow
from proto.commands import accounts as c
from proto.events.accounts import CreditCaptured, CreditReserved
from services.accounts import model, store


def _held(x: c.ReserveCredit, balance_micros: int) -> c.Reservation:
    return c.Reservation(reservation_id=x.reservation_id, amount_micros=x.amount_micros, state="held",
                         balance_micros=balance_micros)


class Credit:
    def __init__(self, store_: EventStore):
        self.store = store_

    async def balance(self, cmd: c.GetBalance) -> c.BalanceView:
        pool = self.store.pool
        available = await store.balance(pool, cmd.org_id)
        rows = await store.ledger_page(pool, cmd.org_id, cmd.limit, cmd.cursor)
        return c.BalanceView(
            balance=format_money(available), currency="USD",
            entries=[c.LedgerEntry(id=r["id"], kind=r["kind"], amount=format_money(r["amount_micros"]),
                                   reason=r["reason"], reference=r["reference"], created_at=rfc3339(r["created_at"]))
                     for r in rows[: cmd.limit]],
            next_cursor=page_cursor(rows, cmd.limit))

    async def reserve(self, cmd: c.ReserveCredit) -> c.Reservation:
        """Hold credit: a read of the reservation (a retried command answers with what it made), then one
        statement that holds it only if the balance covers it."""
        pool = self.store.pool
        s = await store.reservation_state(pool, cmd.reservation_id)
        events = accepted(model.decide_reserve(s, cmd.org_id, cmd.reservation_id, cmd.amount_micros, cmd.reason,
                                             cmd.reference, utcnow()))
        if not events:
            return await self._as_is(cmd)
        ev = events[0]
        assert isinstance(ev, CreditReserved)
        try:
            bal = await store.hold(self.store, ev, 0 if s is None else s.version)
        except (asyncpg.UniqueViolationError, ConcurrencyError):  # the same reservation, concurrently: that one holds it
            if await store.reservation_state(pool, cmd.reservation_id) is None:
                raise CommandError("RESERVATION_ID_TAKEN", "this reservation id is already in use", 409) from None
            return await self._as_is(cmd)
        if bal is None:
            short = model.check_funds(await store.balance(pool, cmd.org_id), cmd.amount_micros)
            raise short or CommandError("INSUFFICIENT_CREDIT", "not enough credit", 402)
        return _held(cmd, bal)

    async def _as_is(self, cmd: c.ReserveCredit) -> c.Reservation:
        """A retried command answers with the reservation it made."""
        s = await store.reservation_state(self.store.pool, cmd.reservation_id)
        if s is None or s.org_id != cmd.org_id:
            raise CommandError("RESERVATION_ID_TAKEN", "this reservation id is already in use", 409)
        return c.Reservation(reservation_id=cmd.reservation_id, amount_micros=s.amount_micros, state=s.status,
                             balance_micros=await store.balance(self.store.pool, cmd.org_id))

    async def reserve_many(self, cmd: c.ReserveCredits) -> c.ReservationOutcomes:
        """``reserve`` for many at once. When every organization in the batch can pay for all of its
        items, one statement holds them all (balances, reservations, ledger, events); whatever that
        cannot answer — a retried id (the statement fails, nothing written), a duplicate within the
        batch, an organization short of credit, a malformed item — goes through ``reserve`` one by one,
        so every answer is the one ``reserve`` would give alone."""
        items, now = cmd.reservations, utcnow()
        out: list[c.ReservationOutcome | None] = [None] * len(items)
        seen: set[str] = set()
        fast: dict[int, CreditReserved] = {}
        for i, x in enumerate(items):
            decided = model.decide_reserve(None, x.org_id, x.reservation_id, x.amount_micros, x.reason, x.reference,
                                           now)
            if x.reservation_id not in seen and parse_uuid(x.org_id) == x.org_id and isinstance(decided, list):
                ev = decided[0]
                assert isinstance(ev, CreditReserved)
                fast[i] = ev
            seen.add(x.reservation_id)
        if fast:
            try:
                paid = await store.hold_together(self.store, list(fast.values()), now)
            except (asyncpg.UniqueViolationError, ConcurrencyError):  # one of them is a retry (its id is held): one by one
                paid = {}
            for i in fast:
                if items[i].org_id in paid:
                    out[i] = c.ReservationOutcome(reservation=_held(items[i], paid[items[i].org_id]))
        for i, x in enumerate(items):
            if out[i] is None:
                try:
                    out[i] = c.ReservationOutcome(reservation=await self.reserve(x))
                except CommandError as exc:
                    out[i] = c.ReservationOutcome(error=exc.body())
        return c.ReservationOutcomes(results=[o for o in out if o is not None])

    async def held(self, cmd: c.ListHeldReservations) -> c.HeldReservations:
        rows = await self.store.pool.fetch(
            "SELECT id, org_id::text AS org_id FROM reservations WHERE state = 'held' AND reason = $1"
            " AND created_at < now() - make_interval(secs => $2) AND created_at >= now() - make_interval(secs => $3)"
            " ORDER BY created_at LIMIT $4", cmd.reason, cmd.older_than_s, cmd.newer_than_s, cmd.limit)
        return c.HeldReservations(items=[c.HeldReservation(reservation_id=r["id"], org_id=r["org_id"]) for r in rows])

    async def settle(self, cmd: c.SettleCredit) -> c.Reservation:
        async with self.store.transaction() as conn:
            return await self.settle_in(conn, cmd)

    async def settle_in(self, conn: asyncpg.Connection, cmd: c.SettleCredit) -> c.Reservation:
        """Capture or release a held reservation; anything but ``held`` is already settled (no-op)."""
        s = await store.reservation_state(conn, cmd.reservation_id, lock=True)
        events = accepted(model.decide_settle(s, cmd.org_id, cmd.reservation_id, cmd.capture, cmd.reason, utcnow()))
        assert s is not None
        await store.record(self.store, conn, events, s.version)
        for ev in events:
            s = model.evolve_reservation(s, ev)
        assert s is not None
        return c.Reservation(reservation_id=cmd.reservation_id, amount_micros=s.amount_micros, state=s.status,
                             balance_micros=await store.balance(conn, cmd.org_id))

    async def capture_many(self, consumer: str, items: list[tuple[str, c.SettleCredit]]) -> set[str]:
        """``settle_in`` of many captures (``capture=True``, distinct reservations) in one transaction,
        each recorded as handled by ``consumer`` under its event id, as that consumer's one-by-one path
        does. Answers the event ids handled; an item whose reservation belongs to another organization
        is left out (and not recorded), for the one-by-one path to refuse."""
        assert all(cmd.capture for _, cmd in items)
        now = utcnow()
        async with self.store.transaction() as conn:
            found = await store.reservation_states(conn, [cmd.reservation_id for _, cmd in items])
            ours = [(eid, cmd) for eid, cmd in items
                    if cmd.reservation_id not in found or found[cmd.reservation_id].org_id == cmd.org_id]
            first = await claim_many(conn, consumer, [eid for eid, _ in ours])
            captures = [(found[cmd.reservation_id].version, ev) for eid, cmd in ours
                        if eid in first and cmd.reservation_id in found
                        for ev in accepted(model.decide_settle(found[cmd.reservation_id], cmd.org_id,
                                                             cmd.reservation_id, True, "", now))
                        if isinstance(ev, CreditCaptured)]
            if captures:
                await store.record_captures(self.store, conn, captures)
        return {eid for eid, _ in ours}
