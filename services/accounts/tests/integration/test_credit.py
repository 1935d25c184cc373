"""Credit against real PostgreSQL: batches of reservations held together, concurrently, and settled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libs.store.db import create_pool, migrate
from libs.store.eventstore import EventStore
from proto.commands import accounts as c
from proto.subjects import Subjects
from services.accounts import store
from services.accounts.credit import Credit

SQL = Path(__file__).resolve().parents[2] / "sql"


@pytest.fixture
async def credit(database_url: str) -> AsyncIterator[Credit]:
    subjects = Subjects("t" + uuid.uuid4().hex[:8])
    schema = subjects.schema("accounts")
    pool = await create_pool(database_url, schema, max_size=12)
    await migrate(pool, schema, SQL)
    yield Credit(EventStore(pool, schema, subjects, "accounts"))
    await pool.close()


async def funded(credit: Credit, n: int, micros: int) -> list[str]:
    orgs = sorted(str(uuid.uuid4()) for _ in range(n))
    for org in orgs:
        await credit.store.pool.execute("INSERT INTO organizations (id, name, created_at) VALUES ($1, 'o', now())", org)
        await credit.store.pool.execute("INSERT INTO balances (org_id, available_micros) VALUES ($1, $2)", org, micros)
    return orgs


async def test_concurrent_batches_naming_the_same_organizations_all_hold(credit: Credit) -> None:
    # given five organizations, and eight writers each holding batches that name all five (in any order)
    orgs = await funded(credit, 5, 10_000_000)

    async def writer(w: int) -> None:
        for b in range(6):
            items = [c.ReserveCredit(org_id=orgs[(j * (w + 1)) % 5], reservation_id=f"{w}-{b}-{j}", amount_micros=100,
                                     reason="m") for j in range(40)]
            out = await credit.reserve_many(c.ReserveCredits(reservations=items))
            assert all(o.reservation is not None for o in out.results), out

    # when they run at once; then none deadlocks, and every hold is taken from its balance once
    await asyncio.gather(*(writer(w) for w in range(8)))
    total = sum([await store.balance(credit.store.pool, org) for org in orgs])
    assert total == 5 * 10_000_000 - 8 * 6 * 40 * 100
    assert await credit.store.pool.fetchval("SELECT count(*) FROM events") == 8 * 6 * 40


async def test_a_short_organization_is_refused_alone_and_a_release_gives_it_back(credit: Credit) -> None:
    rich, poor = await funded(credit, 2, 1_000)
    items = [c.ReserveCredit(org_id=rich, reservation_id="a", amount_micros=600, reason="m"),
             c.ReserveCredit(org_id=poor, reservation_id="b", amount_micros=600, reason="m"),
             c.ReserveCredit(org_id=poor, reservation_id="c", amount_micros=600, reason="m")]
    out = (await credit.reserve_many(c.ReserveCredits(reservations=items))).results
    assert out[0].reservation is not None and out[0].reservation.balance_micros == 400
    assert out[1].reservation is not None  # one by one: the first fits
    assert out[2].error is not None and out[2].error.code == "INSUFFICIENT_CREDIT"
    released = await credit.settle(c.SettleCredit(org_id=poor, reservation_id="b", capture=False, reason="failed"))
    assert (released.state, released.balance_micros) == ("released", 1_000)
    again = await credit.settle(c.SettleCredit(org_id=poor, reservation_id="b", capture=True))
    assert again.state == "released"  # settled once
    kinds = [r["kind"] for r in await credit.store.pool.fetch("SELECT kind FROM ledger WHERE org_id = $1"
                                                               " ORDER BY created_at, kind", poor)]
    assert sorted(kinds) == ["debit", "refund"]
