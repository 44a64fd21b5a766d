"""Budget reservations: holds in memory against reservations in the ledger, exact however many
ask, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from corral.metering import reservations as reservations_module
from corral.metering.ledger import Ledger, Release
from corral.metering.reservations import Hold, Reservations
from corral.storage import Database
from corral.storage.tables import BudgetReservation
from tests.metering.test_ledger import MONTH, held_reservations, month_totals, new_tenant, usage


async def settle(
    ledger: Ledger, reservations: Reservations, hold: Hold, request: str, cost: int
) -> None:
    """What settlement does: the record and spend, then the hold released."""
    moved = min(cost, hold.amount)
    await ledger.settle(
        usage(request, hold.reservation.tenant_id, cost), Release(hold.reservation_id, moved)
    )
    reservations.release(hold, moved)


async def test_holds_within_a_reservation_write_nothing_to_the_ledger(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    reservations = Reservations(ledger)

    holds = [await reservations.hold(tenant, MONTH, 100, 1_000_000) for _ in range(10)]

    assert all(holds)
    # one reservation of 64 holds like these, reserved once
    assert month_totals(db, tenant) == (0, 6_400)
    assert held_reservations(db) == 1


async def test_near_the_end_of_a_budget_a_reservation_is_just_what_is_needed(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000)
    reservations = Reservations(ledger)

    assert await reservations.hold(tenant, MONTH, 100, 1_000)

    assert month_totals(db, tenant) == (0, 100)


async def test_a_budget_admits_exactly_what_fits_however_many_ask_at_once(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=50 * 7)
    reservations = Reservations(ledger)

    holds = await asyncio.gather(*(reservations.hold(tenant, MONTH, 7, 50 * 7) for _ in range(200)))

    assert sum(1 for hold in holds if hold is not None) == 50
    assert month_totals(db, tenant) == (0, 50 * 7)


async def test_two_processes_never_hold_more_than_the_budget_and_refuse_nothing_that_fits(
    db: Database,
) -> None:
    tenant = new_tenant(db, budget_micros=50 * 7)

    # Two ledgers and their reservations, each in a thread with its own event loop: two servers.
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(lambda _: asyncio.run(hold_many(db, tenant)), (0, 1)))

    assert halves[0] + halves[1] == 50
    assert month_totals(db, tenant) == (0, 50 * 7)


async def hold_many(db: Database, tenant: str) -> int:
    """100 concurrent holds of 7 from one process; how many were granted."""
    ledger = Ledger(db)
    try:
        reservations = Reservations(ledger)
        holds = await asyncio.gather(
            *(reservations.hold(tenant, MONTH, 7, 50 * 7) for _ in range(100))
        )
        return sum(1 for hold in holds if hold is not None)
    finally:
        await ledger.aclose()


async def test_settled_costs_leave_the_reservation_and_an_idle_reservation_goes_back(
    db: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    reservations = Reservations(ledger)
    first = await reservations.hold(tenant, MONTH, 100, 1_000_000)
    second = await reservations.hold(tenant, MONTH, 100, 1_000_000)
    assert first is not None and second is not None

    await settle(ledger, reservations, first, "req_1", cost=40)
    await settle(ledger, reservations, second, "req_2", cost=100)
    assert month_totals(db, tenant) == (140, 6_400 - 140)

    await reservations.tidy()  # still within IDLE_S of the last request: kept
    assert held_reservations(db) == 1
    monkeypatch.setattr(reservations_module, "IDLE_S", 0.0)
    await reservations.tidy()
    assert month_totals(db, tenant) == (140, 0)
    assert held_reservations(db) == 0


async def test_a_reservation_in_use_is_not_given_back(
    db: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    reservations = Reservations(ledger)
    monkeypatch.setattr(reservations_module, "IDLE_S", 0.0)
    assert await reservations.hold(tenant, MONTH, 100, 1_000_000)

    await reservations.tidy()

    assert month_totals(db, tenant) == (0, 6_400)


async def test_a_reservation_running_low_is_topped_up_before_it_runs_out(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    reservations = Reservations(ledger)

    for _ in range(49):  # 4,900 of 6,400 held: less than a quarter left
        assert await reservations.hold(tenant, MONTH, 100, 1_000_000)

    # A second reservation's worth is added in the background, to the same reservation.
    assert await eventually(lambda: month_totals(db, tenant) == (0, 12_800))
    assert held_reservations(db) == 1


async def eventually(check: Callable[[], bool], tries: int = 500) -> bool:
    """Whether `check` passes within `tries` looks, 10 ms apart."""
    for _ in range(tries):
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


async def test_a_hold_cancelled_while_its_reservation_grows_leaves_the_grow_to_finish(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    reservations = Reservations(ledger)
    waiting = asyncio.ensure_future(reservations.hold(tenant, MONTH, 100, 1_000_000))
    await asyncio.sleep(0)  # it has asked the ledger for a reservation

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    hold = await reservations.hold(tenant, MONTH, 100, 1_000_000)

    assert hold is not None
    assert month_totals(db, tenant) == (0, 6_400)  # the one reservation, reserved once
    assert held_reservations(db) == 1


async def test_a_reservation_in_use_has_its_expiry_pushed_back(
    db: Database, ledger: Ledger
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    reservations = Reservations(ledger, renew_after_s=0.0)  # every tidy renews
    assert await reservations.hold(tenant, MONTH, 100, 1_000_000)
    before = reservation_expiry(db)

    await asyncio.sleep(0.01)
    await reservations.tidy()

    assert await eventually(lambda: reservation_expiry(db) > before)
    assert month_totals(db, tenant) == (0, 6_400)  # renewed, not grown


def reservation_expiry(db: Database) -> dt.datetime:
    with db.read() as session:
        [expiry] = session.scalars(select(BudgetReservation.expires_at)).all()
    return expiry


async def test_a_reservation_swept_while_its_process_stalled_is_replaced_by_a_new_one(
    db: Database,
) -> None:
    tenant = new_tenant(db, budget_micros=1_000_000)
    ledger = Ledger(db, reservation_timeout_s=0)  # every reservation expires at once
    reservations = Reservations(ledger)
    try:
        stalled = await reservations.hold(tenant, MONTH, 100, 1_000_000)
        assert stalled is not None
        assert ledger.sweep_expired() == 1  # another replica sweeps it meanwhile

        # More than the old reservation had left: it must grow, and finds it gone.
        for _ in range(64):
            assert await reservations.hold(tenant, MONTH, 100, 1_000_000)
        await settle(ledger, reservations, stalled, "req_stalled", cost=40)

        # One new reservation, of which the stalled request's settlement took nothing.
        assert month_totals(db, tenant) == (40, 6_400)
        assert held_reservations(db) == 1
    finally:
        await ledger.aclose()
