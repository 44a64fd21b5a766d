"""The ledger: budget holds before a request, one exact record after it, nothing lost between."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import KeyHasher
from corral.metering.ledger import Ledger, Reservation, UsageEntry, month_of
from corral.settings import load_settings
from corral.storage import Database, open_database
from corral.storage.tables import BudgetMonth, BudgetReservation, UsageDaily, UsageRecord

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
MONTH = month_of(NOW)
PRICES = (1_000_000, 2_000_000)


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path, database_url=database_url))
    yield database
    database.close()


@pytest.fixture
async def ledger(db: Database) -> AsyncIterator[Ledger]:
    opened = Ledger(db)
    yield opened
    await opened.aclose()


def new_tenant(db: Database, budget_micros: int | None, name: str = "acme") -> str:
    return AccountsAdmin(db, KeyHasher(b"test")).create_tenant(name, budget_micros=budget_micros).id


def usage(request_id: str, tenant_id: str | None, cost: int, **fields: Any) -> UsageEntry:
    """A finished request's usage: 10 + 5 tokens of model 'm' with key 'key_a', unless told."""
    entry = UsageEntry(
        request_id=request_id,
        tenant_id=tenant_id,
        key_id="key_a",
        model="m",
        tier="premium",
        prompt_tokens=10,
        completion_tokens=5,
        prices=PRICES,
        cost_micros=cost,
        outcome="completed",
        started_at=NOW,
        ended_at=NOW + dt.timedelta(seconds=1),
    )
    return dataclasses.replace(entry, **fields)


def month_totals(db: Database, tenant_id: str) -> tuple[int, int]:
    """(spent, reserved) of the tenant's month."""
    with db.read() as session:
        row = session.get(BudgetMonth, (tenant_id, MONTH))
    assert row is not None
    return row.spent_micros, row.reserved_micros


def held_reservations(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(BudgetReservation)) or 0


async def test_holds_become_spending_when_requests_settle(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    assert await ledger.reserve(tenant, "req_1", MONTH, 300)
    assert await ledger.reserve(tenant, "req_2", MONTH, 200)
    assert month_totals(db, tenant) == (0, 500)

    await ledger.settle(usage("req_1", tenant, cost=120), Reservation("req_1", tenant, MONTH, 300))
    assert month_totals(db, tenant) == (120, 200)

    await ledger.settle(None, Reservation("req_2", tenant, MONTH, 200))  # produced nothing
    assert month_totals(db, tenant) == (120, 0)
    assert held_reservations(db) == 0


async def test_a_hold_that_does_not_fit_is_refused_and_leaves_nothing(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=100)
    assert await ledger.reserve(tenant, "req_1", MONTH, 60)

    refused = await ledger.reserve(tenant, "req_2", MONTH, 41)
    fits_exactly = await ledger.reserve(tenant, "req_3", MONTH, 40)

    assert refused is False
    assert fits_exactly is True
    assert month_totals(db, tenant) == (0, 100)
    assert held_reservations(db) == 2


async def test_a_hold_still_fits_after_its_month_row_was_removed_behind_the_ledger(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=100)
    assert await ledger.reserve(tenant, "req_1", MONTH, 60)
    await ledger.settle(None, Reservation("req_1", tenant, MONTH, 60))
    with db.write() as session:  # e.g. an operator clearing a month by hand
        session.execute(delete(BudgetMonth))

    held = await ledger.reserve(tenant, "req_2", MONTH, 100)

    assert held is True
    assert month_totals(db, tenant) == (0, 100)


async def test_spending_counts_against_the_budget_too(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=100)
    await ledger.settle(usage("req_1", tenant, cost=90), None)

    assert not await ledger.reserve(tenant, "req_2", MONTH, 11)
    assert await ledger.reserve(tenant, "req_3", MONTH, 10)


async def test_a_tenant_without_a_budget_may_reserve_anything(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=None)

    assert await ledger.reserve(tenant, "req_1", MONTH, 10**15)


async def test_concurrent_holds_never_reserve_past_the_budget(db: Database) -> None:
    tenant = new_tenant(db, budget_micros=50 * 7)

    # Two ledgers, each in a thread with its own event loop: two servers on one database.
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(lambda half: asyncio.run(reserve_many(db, tenant, half)), (0, 1)))

    granted = halves[0] + halves[1]
    assert granted.count(True) == 50
    assert month_totals(db, tenant) == (0, 50 * 7)
    assert held_reservations(db) == 50


async def reserve_many(db: Database, tenant: str, half: int) -> list[bool]:
    """100 concurrent holds of 7 from one ledger (one server)."""
    ledger = Ledger(db)
    try:
        holds = (ledger.reserve(tenant, f"req_{half}_{i}", MONTH, 7) for i in range(100))
        return list(await asyncio.gather(*holds))
    finally:
        await ledger.aclose()


async def test_a_hold_whose_request_is_cancelled_is_never_left_behind(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=10_000)
    assert await ledger.reserve(tenant, "req_kept", MONTH, 100)
    requests = []
    for steps in range(8):  # cancelled before, during and after its commit
        request = asyncio.ensure_future(ledger.reserve(tenant, f"req_{steps}", MONTH, 100))
        for _ in range(steps):
            await asyncio.sleep(0)
        request.cancel()
        requests.append(request)

    await asyncio.gather(*requests, return_exceptions=True)
    await ledger.aclose()  # waits for the writes still queued

    answered = sum(1 for request in requests if not request.cancelled())
    assert month_totals(db, tenant) == (0, 100 * (1 + answered))
    assert held_reservations(db) == 1 + answered


async def test_a_settlement_is_written_even_if_its_request_is_cancelled(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=None)
    request = asyncio.ensure_future(ledger.settle(usage("req_1", tenant, cost=5), None))
    await asyncio.sleep(0)

    request.cancel()
    await ledger.aclose()

    with db.read() as session:
        assert session.scalars(select(UsageRecord.request_id)).all() == ["req_1"]
    assert month_totals(db, tenant) == (5, 0)


async def test_a_reused_request_id_is_billed_all_the_same_beside_the_writes_of_its_batch(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=None)
    await ledger.settle(usage("req_dup", tenant, cost=5), None)

    await asyncio.gather(
        ledger.settle(usage("req_a", tenant, cost=1), None),
        ledger.settle(usage("req_dup", tenant, cost=7), None),  # a client resent its id
        ledger.settle(usage("req_b", tenant, cost=2), None),
    )

    with db.read() as session:
        ids = sorted(session.scalars(select(UsageRecord.request_id)).all())
    assert ids[:3] == ["req_a", "req_b", "req_dup"]
    assert ids[3].startswith("req_dup#") and len(ids) == 4
    assert month_totals(db, tenant) == (15, 0)


async def test_settling_writes_one_record_and_the_day_rollup_equals_the_ledger(
    db: Database, ledger: Ledger
) -> None:
    acme, globex = new_tenant(db, None, "acme"), new_tenant(db, None, "globex")
    entries = [
        usage("req_1", acme, cost=25, prompt_tokens=10, completion_tokens=5),
        usage("req_2", acme, cost=31, prompt_tokens=7, completion_tokens=12),
        usage("req_3", acme, cost=4, model="other", outcome="cancelled"),
        usage("req_4", globex, cost=9, key_id="key_b"),
        usage("req_5", None, cost=3, key_id="admin"),  # the operator's own request
    ]

    for entry in entries:
        await ledger.settle(entry, None)

    with db.read() as session:
        records = session.scalars(select(UsageRecord)).all()
        daily = session.scalars(select(UsageDaily)).all()
    assert sorted(r.request_id for r in records) == ["req_1", "req_2", "req_3", "req_4", "req_5"]
    assert rollup_of(daily) == ledger_sums(records)
    assert rollup_of(daily)[(acme, NOW.date(), "m", "premium", "key_a", *PRICES)] == Counter(
        requests=2, prompt=17, completion=17, cost=56
    )
    assert month_totals(db, acme) == (60, 0)


async def test_an_expired_hold_is_swept_and_released_once(db: Database) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    ledger = Ledger(db, reservation_timeout_s=0)  # every hold expires at once
    await ledger.reserve(tenant, "req_1", MONTH, 300)

    swept = ledger.sweep_expired()

    assert swept == 1
    assert month_totals(db, tenant) == (0, 0)
    # the request was only slow, not dead: it settles late without releasing the hold again
    await ledger.settle(usage("req_1", tenant, cost=50), Reservation("req_1", tenant, MONTH, 300))
    assert month_totals(db, tenant) == (50, 0)
    await ledger.aclose()


async def test_a_live_hold_is_not_swept(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    await ledger.reserve(tenant, "req_1", MONTH, 300)

    assert ledger.sweep_expired() == 0
    assert month_totals(db, tenant) == (0, 300)


Bucket = tuple[str, dt.date, str, str, str, int, int]
"""tenant ('' for the operator), day, model, tier, key, unit prices: a rollup row's key."""


def ledger_sums(records: Sequence[UsageRecord]) -> dict[Bucket, Counter[str]]:
    """The raw ledger summed per tenant, day, model and key."""
    sums: dict[Bucket, Counter[str]] = {}
    for r in records:
        bucket = (
            r.tenant_id or "",
            r.started_at.date(),
            r.model,
            r.tier,
            r.key_id,
            r.input_price_micros,
            r.output_price_micros,
        )
        sums.setdefault(bucket, Counter()).update(
            requests=1, prompt=r.prompt_tokens, completion=r.completion_tokens, cost=r.cost_micros
        )
    return sums


def rollup_of(rows: Sequence[UsageDaily]) -> dict[Bucket, Counter[str]]:
    return {
        (
            d.tenant_id,
            d.day,
            d.model,
            d.tier,
            d.key_id,
            d.input_price_micros,
            d.output_price_micros,
        ): Counter(
            requests=d.requests,
            prompt=d.prompt_tokens,
            completion=d.completion_tokens,
            cost=d.cost_micros,
        )
        for d in rows
    }
