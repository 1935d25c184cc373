"""A number order taken for dead and undone (numbers released at the carrier, credit refunded) while its
own process is still at it, against real PostgreSQL and NATS (accounts and the carrier stand-ins): the
order answers the truth — undone, a 503 to retry — and never completes what was undone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest

from libs.bus.rpc import RpcClient, RpcServer
from libs.carrier.http_api import AvailableNumber, BrandResult
from libs.testing import SLACK
from libs.testing.stores import migrated_store
from proto.base import CommandError, new_id
from proto.commands.accounts import Reservation, ReserveCredit, SettleCredit
from proto.commands.numbers import OrderNumbers
from proto.http.numbers import OrderView
from proto.subjects import Subjects
from services.numbers.config import NumbersSettings
from services.numbers.orders import Orders

SQL = Path(__file__).parent.parent / "sql"
NUMBER = "+14155550177"


async def order_events(pool: Any, order_id: str) -> list[str]:
    """The order's stream: the events its row in number_orders is the projection of."""
    rows = await pool.fetch("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
                            f"number_order-{order_id}")
    return [r["event_type"] for r in rows]


class SlowCarrier:
    """The carrier's number API; the first assignment waits until the test lets it answer."""

    def __init__(self) -> None:
        self.assigning = asyncio.Event()
        self.answer = asyncio.Event()
        self.assigned: list[str] = []
        self.released: list[str] = []

    async def available_numbers(self, area_code: str, quantity: int, contains: str | None = None
                                ) -> list[AvailableNumber]:
        return []

    async def assign_numbers(self, numbers: list[str], account_ref: str) -> list[str]:
        first = not self.assigning.is_set()
        self.assigning.set()
        if first:
            await self.answer.wait()
        self.assigned += numbers
        return numbers

    async def release_number(self, number: str, account_ref: str) -> None:
        self.released.append(number)

    async def submit_message(self, from_: str, to: str, text: str, reference: str, org_id: str = "") -> str:
        raise NotImplementedError

    async def register_brand(self, brand: dict[str, Any]) -> BrandResult:
        raise NotImplementedError

    async def submit_campaign(self, campaign: dict[str, Any]) -> str:
        raise NotImplementedError


class Accounts:
    """accounts' credit commands, answered on NATS: every reservation held, settlements recorded."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, bool]] = []

    async def reserve(self, cmd: ReserveCredit) -> Reservation:
        return Reservation(reservation_id=cmd.reservation_id, amount_micros=cmd.amount_micros, state="held",
                           balance_micros=10**9)

    async def settle(self, cmd: SettleCredit) -> Reservation:
        self.settled.append((cmd.reservation_id, cmd.capture))
        return Reservation(reservation_id=cmd.reservation_id, amount_micros=0,
                           state="captured" if cmd.capture else "released", balance_micros=10**9)


@pytest.fixture
async def world(database_url: str, nats_url: str, subject_root: str
                ) -> AsyncIterator[tuple[Orders, SlowCarrier, Accounts]]:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    accounts, carrier = Accounts(), SlowCarrier()
    server = RpcServer(nc, subjects, "fake-accounts")
    await server.serve({ReserveCredit: accounts.reserve, SettleCredit: accounts.settle})
    async with migrated_store(database_url, subject_root, "numbers", SQL) as es:
        # a repeat or the sweeper finds the first attempt pending: taken for dead at once
        settings = NumbersSettings(abandoned_after_s=0, pending_order_timeout_s=0)
        yield Orders(es, settings, carrier, RpcClient(nc, subjects)), carrier, accounts
    await server.close()
    await nc.close()


async def test_an_order_undone_while_it_waited_for_the_carrier_answers_undone(
        world: tuple[Orders, SlowCarrier, Accounts]) -> None:
    orders, carrier, accounts = world
    org, order_id = new_id(), new_id()
    cmd = OrderNumbers(org_id=org, numbers=[NUMBER], order_id=order_id)
    # given: an order waiting for the carrier to assign its number
    first = asyncio.create_task(orders.order(cmd))
    await carrier.assigning.wait()
    # when: its repeat takes it for dead, undoes it and orders again; then the carrier answers the first
    again = await orders.order(cmd)
    carrier.answer.set()
    try:
        answer: OrderView | CommandError = await first
    except CommandError as exc:
        answer = exc
    # then: the first answers that it was undone (503: retry), the repeat's order holds the number (the
    # first does not give it back to the carrier again)
    assert isinstance(answer, CommandError), answer
    assert (answer.code, answer.status) == ("SERVICE_TIMEOUT", 503)
    assert again.status == "completed" and again.id != order_id
    assert carrier.released == [NUMBER]  # by the undo, before the repeat ordered it again
    pool = orders.store.pool
    status = await pool.fetchval("SELECT status FROM number_orders WHERE id = $1::uuid", order_id)
    assert status == "failed"
    owned = await pool.fetch("SELECT order_id::text AS order_id, status FROM phone_numbers WHERE e164 = $1", NUMBER)
    assert [(r["order_id"], r["status"]) for r in owned] == [(again.id, "active")]
    assert (f"number-order-{order_id}", True) not in accounts.settled  # the undone order is never captured
    assert (f"number-order-{order_id}", False) in accounts.settled
    # the orders' rows are their events' projections: the undone one never completed, the repeat's did
    assert await order_events(pool, order_id) == ["NumberOrderPlaced", "NumberOrderFailed", "NumberOrderSettled"]
    assert await order_events(pool, again.id) == ["NumberOrderPlaced", "NumberOrderCompleted", "NumberOrderSettled"]
    row = await pool.fetchrow("SELECT status, settled, version FROM number_orders WHERE id = $1::uuid", again.id)
    assert (row["status"], row["settled"], row["version"]) == ("completed", True, 3)


async def test_an_order_the_sweeper_undid_while_it_waited_gives_back_what_it_got_since(
        world: tuple[Orders, SlowCarrier, Accounts]) -> None:
    orders, carrier, accounts = world
    org, order_id = new_id(), new_id()
    pool = orders.store.pool
    # given: an order waiting for the carrier to assign its number
    first = asyncio.create_task(orders.order(OrderNumbers(org_id=org, numbers=[NUMBER], order_id=order_id)))
    await carrier.assigning.wait()
    # when: the sweeper takes it for dead and undoes it; then the carrier assigns the number after all
    sweeper = asyncio.create_task(orders.sweep_orders())
    async with asyncio.timeout(15 * SLACK):
        while await pool.fetchval("SELECT status FROM number_orders WHERE id = $1::uuid", order_id) != "failed":
            await asyncio.sleep(0.01)
    sweeper.cancel()
    carrier.answer.set()
    try:
        answer: OrderView | CommandError = await first
    except CommandError as exc:
        answer = exc
    # then: undone (503), nothing kept: the number assigned since goes back, nothing captured
    assert isinstance(answer, CommandError) and (answer.code, answer.status) == ("SERVICE_TIMEOUT", 503), answer
    assert carrier.released == [NUMBER, NUMBER]  # by the sweeper, then by the order that got it since
    assert await pool.fetchval("SELECT count(*) FROM phone_numbers WHERE e164 = $1", NUMBER) == 0
    assert (f"number-order-{order_id}", True) not in accounts.settled
    assert (f"number-order-{order_id}", False) in accounts.settled
    assert await order_events(pool, order_id) == ["NumberOrderPlaced", "NumberOrderFailed", "NumberOrderSettled"]
