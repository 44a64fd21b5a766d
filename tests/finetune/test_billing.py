"""A fine-tuning job's bill, on each database: the quote is held against the tenant's budget
(refused when it does not fit), and the settlement records the trained tokens once, however
often it is attempted, moving exactly their cost to the month's spend."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import key_hasher
from corral.errors import BudgetExceeded
from corral.finetune.billing import LINE, TrainingBill
from corral.jobs import Job, JobQueue
from corral.metering.ledger import Ledger, month_of
from corral.money import cost_micros
from corral.settings import load_settings
from corral.storage import Database, open_database
from corral.storage.tables import BudgetMonth, BudgetReservation, UsageRecord

PRICE = 2_500_000  # micro-units per million trained tokens


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


async def job_of(db: Database, tmp_path: Path, budget_micros: int | None) -> Job:
    admin = AccountsAdmin(db, key_hasher(tmp_path, None))
    tenant = admin.create_tenant(
        f"t{dt.datetime.now().timestamp():.0f}", budget_micros=budget_micros
    )
    return await JobQueue(db).submit("fine_tuning", tenant.id, {}, id_prefix="ftjob-")


def month_row(db: Database, tenant_id: str) -> BudgetMonth | None:
    with db.read() as session:
        return session.get(BudgetMonth, (tenant_id, month_of(dt.datetime.now(dt.UTC))))


async def test_a_quote_that_fits_is_held_and_the_trained_tokens_are_billed_once(
    db: Database, ledger: Ledger, tmp_path: Path
) -> None:
    job = await job_of(db, tmp_path, budget_micros=10_000)
    bill = TrainingBill(ledger, db, PRICE)
    await bill.hold(job, 3_001)
    month = month_row(db, job.tenant_id)
    assert month is not None and month.reserved_micros == bill.quote(3_001) == 7_503

    await bill.settle(job, "ft:m:t::x", 2_000, 3_001, "cancelled")
    await bill.settle(job, "ft:m:t::x", 2_000, 3_001, "cancelled")  # a resumed job, again

    with db.read() as session:
        records = list(session.scalars(select(UsageRecord)))
        reservations = list(session.scalars(select(BudgetReservation)))
    assert [(r.request_id, r.tier, r.prompt_tokens, r.cost_micros) for r in records] == [
        (job.id, LINE, 2_000, cost_micros(2_000, 0, (PRICE, 0)))
    ]
    assert reservations == []
    month = month_row(db, job.tenant_id)
    assert month is not None and (month.spent_micros, month.reserved_micros) == (5_000, 0)


async def test_a_quote_beyond_the_budget_is_refused_and_holds_nothing(
    db: Database, ledger: Ledger, tmp_path: Path
) -> None:
    job = await job_of(db, tmp_path, budget_micros=7_000)
    with pytest.raises(BudgetExceeded) as refused:
        await TrainingBill(ledger, db, PRICE).hold(job, 3_001)
    assert refused.value.code == "budget_exceeded"
    month = month_row(db, job.tenant_id)
    assert month is None or month.reserved_micros == 0


async def test_the_quote_held_at_creation_is_topped_up_to_the_exact_one_at_the_start(
    db: Database, ledger: Ledger, tmp_path: Path
) -> None:
    job = await job_of(db, tmp_path, budget_micros=10_000)
    bill = TrainingBill(ledger, db, PRICE)
    held = await bill.hold_quote(job.id, job.tenant_id, job.created_at, 2_000)
    month = month_row(db, job.tenant_id)
    assert month is not None and month.reserved_micros == held == 5_000

    await bill.hold(job, 2_000)  # the same count at the start: nothing more is reserved
    await bill.hold(job, 3_001)  # more tokens than quoted (examples cut differently)
    month = month_row(db, job.tenant_id)
    assert month is not None and month.reserved_micros == bill.quote(3_001)

    await bill.settle(job, "ft:m:t::x", 3_001, 3_001, "completed")
    month = month_row(db, job.tenant_id)
    assert month is not None and (month.spent_micros, month.reserved_micros) == (7_503, 0)


async def test_a_creation_quote_beyond_the_budget_is_refused_and_holds_nothing(
    db: Database, ledger: Ledger, tmp_path: Path
) -> None:
    job = await job_of(db, tmp_path, budget_micros=4_000)
    bill = TrainingBill(ledger, db, PRICE)
    with pytest.raises(BudgetExceeded, match="2000 tokens"):
        await bill.hold_quote(job.id, job.tenant_id, job.created_at, 2_000)
    with db.read() as session:
        assert list(session.scalars(select(BudgetReservation))) == []

    assert await bill.hold_quote(job.id, job.tenant_id, job.created_at, 1_000) == 2_500
    with pytest.raises(BudgetExceeded):  # at the start the exact count no longer fits
        await bill.hold(job, 2_000)
    month = month_row(db, job.tenant_id)
    assert month is not None and month.reserved_micros == 0
