"""The ledger: budget reservations before requests, one exact record after each, nothing lost
between."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import delete, func, select

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import KeyHasher
from corral.metering.ledger import Ledger, Release, ReservationChange, UsageEntry, month_of
from corral.storage import Database
from corral.storage.tables import BudgetMonth, BudgetReservation, UsageDaily, UsageRecord

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
MONTH = month_of(NOW)
PRICES = (1_000_000, 2_000_000)


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


def grow(
    ledger: Ledger, tenant: str, reservation: str, needed: int, wanted: int, create: bool = True
) -> Any:
    """A coroutine of the `ReservationChange`."""
    return ledger.grow_reservation(reservation, tenant, MONTH, needed, wanted, create=create)


async def test_a_reservation_gets_what_it_wants_if_that_fits_else_what_it_needs(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000)

    assert await grow(ledger, tenant, "resv_a", 100, 700) == ReservationChange(700, False)
    assert await grow(ledger, tenant, "resv_b", 200, 700) == ReservationChange(200, False)
    assert await grow(ledger, tenant, "resv_a", 50, 400) == ReservationChange(50, True)

    assert month_totals(db, tenant) == (0, 950)
    assert held_reservations(db) == 2


async def test_a_reservation_that_does_not_fit_at_all_gets_nothing_and_leaves_nothing(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=100)
    await grow(ledger, tenant, "resv_a", needed=60, wanted=60)

    refused = await grow(ledger, tenant, "resv_b", needed=41, wanted=80)
    fits_exactly = await grow(ledger, tenant, "resv_c", needed=40, wanted=80)

    assert refused == ReservationChange(0, False)
    assert fits_exactly == ReservationChange(40, False)
    assert month_totals(db, tenant) == (0, 100)
    assert held_reservations(db) == 2


async def test_a_settled_cost_moves_from_its_reservation_to_the_spend(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    await grow(ledger, tenant, "resv_a", needed=300, wanted=300)

    await ledger.settle(usage("req_1", tenant, cost=120), Release("resv_a", 120))
    await ledger.settle(usage("req_2", tenant, cost=9), None)  # admitted without a hold

    assert month_totals(db, tenant) == (129, 180)
    await ledger.end_reservation("resv_a", tenant, MONTH)
    await ledger.end_reservation("resv_a", tenant, MONTH)  # twice: the second finds nothing
    assert month_totals(db, tenant) == (129, 0)
    assert held_reservations(db) == 0


async def test_a_record_keeps_its_cached_tokens_and_the_price_they_were_billed_at(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=None)

    await ledger.settle(usage("req_cached", tenant, cost=4, cached_tokens=8, cached_price=100_000))
    await ledger.settle(usage("req_plain", tenant, cost=20))

    with db.read() as session:
        rows = session.execute(
            select(
                UsageRecord.request_id, UsageRecord.cached_tokens, UsageRecord.cached_price_micros
            ).order_by(UsageRecord.request_id)
        ).all()
    assert [tuple(row) for row in rows] == [("req_cached", 8, 100_000), ("req_plain", 0, None)]


async def test_a_reservation_still_fits_after_its_month_row_was_removed_behind_the_ledger(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=100)
    await grow(ledger, tenant, "resv_a", needed=60, wanted=60)
    await ledger.end_reservation("resv_a", tenant, MONTH)
    with db.write() as session:  # e.g. an operator clearing a month by hand
        session.execute(delete(BudgetMonth))

    change = await grow(ledger, tenant, "resv_b", needed=100, wanted=100)

    assert change == ReservationChange(100, False)
    assert month_totals(db, tenant) == (0, 100)


async def test_spending_counts_against_the_budget_too(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=100)
    await ledger.settle(usage("req_1", tenant, cost=90))

    assert (await grow(ledger, tenant, "resv_a", needed=11, wanted=11)).granted == 0
    assert (await grow(ledger, tenant, "resv_a", needed=10, wanted=50)).granted == 10


async def test_a_tenant_without_a_budget_may_reserve_anything(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=None)

    assert (await grow(ledger, tenant, "resv_a", needed=1, wanted=10**15)).granted == 10**15


async def test_concurrent_reservations_never_reserve_past_the_budget(db: Database) -> None:
    tenant = new_tenant(db, budget_micros=50 * 7)

    # Two ledgers, each in a thread with its own event loop: two servers on one database.
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(lambda half: asyncio.run(grow_many(db, tenant, half)), (0, 1)))

    granted = halves[0] + halves[1]
    assert sum(granted) == 50 * 7 and set(granted) == {0, 7}
    assert month_totals(db, tenant) == (0, 50 * 7)
    assert held_reservations(db) == 50


async def grow_many(db: Database, tenant: str, half: int) -> list[int]:
    """100 concurrent reservations of 7 from one ledger (one server)."""
    ledger = Ledger(db)
    try:
        reservations = (grow(ledger, tenant, f"resv_{half}_{i}", 7, 7) for i in range(100))
        return [change.granted for change in await asyncio.gather(*reservations)]
    finally:
        await ledger.aclose()


async def test_a_settlement_is_written_even_if_its_request_is_cancelled(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=None)
    request = asyncio.ensure_future(ledger.settle(usage("req_1", tenant, cost=5)))
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
    await ledger.settle(usage("req_dup", tenant, cost=5))

    await asyncio.gather(
        ledger.settle(usage("req_a", tenant, cost=1)),
        ledger.settle(usage("req_dup", tenant, cost=7)),  # a client resent its id
        ledger.settle(usage("req_b", tenant, cost=2)),
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
        await ledger.settle(entry)

    with db.read() as session:
        records = session.scalars(select(UsageRecord)).all()
        daily = session.scalars(select(UsageDaily)).all()
    assert sorted(r.request_id for r in records) == ["req_1", "req_2", "req_3", "req_4", "req_5"]
    assert rollup_of(daily) == ledger_sums(records)
    assert rollup_of(daily)[(acme, NOW.date(), "m", "premium", "key_a", *PRICES)] == Counter(
        requests=2, prompt=17, completion=17, cost=56
    )
    assert month_totals(db, acme) == (60, 0)


async def test_settlements_committed_together_add_up_to_the_same_totals(
    db: Database, ledger: Ledger
) -> None:
    acme, globex = new_tenant(db, 10_000, "acme"), new_tenant(db, None, "globex")
    await grow(ledger, acme, "resv_a", needed=1_000, wanted=1_000)
    entries = [
        usage(f"req_{i}", acme, cost=10 + i, prompt_tokens=i, model=("m", "other")[i % 2])
        for i in range(12)
    ]
    entries += [usage("req_g", globex, cost=7, key_id="key_b"), usage("req_o", None, cost=3)]
    releases = [Release("resv_a", 10 + i) for i in range(12)] + [None, None]

    # One batch: they arrive together.
    await asyncio.gather(*(ledger.settle(e, r) for e, r in zip(entries, releases, strict=True)))

    with db.read() as session:
        records = session.scalars(select(UsageRecord)).all()
        daily = session.scalars(select(UsageDaily)).all()
    assert len(records) == 14
    assert rollup_of(daily) == ledger_sums(records)
    spent = sum(10 + i for i in range(12))
    assert month_totals(db, acme) == (spent, 1_000 - spent)
    assert month_totals(db, globex) == (7, 0)


async def test_reservations_granted_in_the_batch_of_settlements_each_get_their_own_answer(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    await grow(ledger, tenant, "resv_a", needed=300, wanted=300)

    # One batch: two reservation grants among settlements, one of which releases from resv_a.
    answers = await asyncio.gather(
        ledger.settle(usage("req_1", tenant, cost=100), Release("resv_a", 100)),
        grow(ledger, tenant, "resv_b", needed=200, wanted=400),
        ledger.settle(usage("req_2", tenant, cost=20), None),
        grow(ledger, tenant, "resv_c", needed=500, wanted=500),
    )

    assert list(answers) == [None, ReservationChange(400, False), None, ReservationChange(0, False)]
    assert month_totals(db, tenant) == (120, 200 + 400)
    assert held_reservations(db) == 2


async def test_an_expired_reservation_is_swept_and_what_settles_late_is_not_released_twice(
    db: Database,
) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    ledger = Ledger(db, reservation_timeout_s=0)  # every reservation expires at once
    await grow(ledger, tenant, "resv_a", needed=300, wanted=300)

    swept = ledger.sweep_expired()

    assert swept == 1
    assert month_totals(db, tenant) == (0, 0)
    # its process was only stalled, not dead: a request settles late, and the reservation stays gone
    await ledger.settle(usage("req_1", tenant, cost=50), Release("resv_a", 50))
    assert month_totals(db, tenant) == (50, 0)
    gone = await grow(ledger, tenant, "resv_a", needed=10, wanted=10, create=False)
    assert gone == ReservationChange(0, False)
    assert month_totals(db, tenant) == (50, 0)
    assert held_reservations(db) == 0
    await ledger.aclose()


async def test_a_live_reservation_is_not_swept(db: Database, ledger: Ledger) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    await grow(ledger, tenant, "resv_a", needed=300, wanted=300)

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
