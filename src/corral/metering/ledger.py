"""Budget reservations and settlement: the only writers of the ledger and the monthly spend.

Before a request runs, `reserve` holds its maximum possible cost against the tenant's monthly
budget with one conditional update, which the database applies atomically, so concurrent
requests (in one process or many) can never reserve past the budget. When the request ends,
`settle` writes, all or nothing: the ledger row, the day's rollup, the month's spend, and the
release of the reservation; it completes even if the request is cancelled meanwhile. Writes
that arrive together share one transaction (`group_commit`; the SQL, per database, is in
`ledger_sqlite` and `ledger_postgres`). A reservation left by a crashed process expires and
is swept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, delete, update

from corral.metering.ledger_sql import BatchedLedgerSql
from corral.storage import Database
from corral.storage.tables import (
    BudgetMonth,
    BudgetReservation,
)

Outcome = Literal["completed", "cancelled", "failed"]


@dataclass(frozen=True, slots=True)
class Reservation:
    request_id: str
    tenant_id: str
    month: str
    amount_micros: int


@dataclass(frozen=True, slots=True)
class UsageEntry:
    request_id: str
    tenant_id: str | None
    key_id: str
    model: str
    tier: str
    prompt_tokens: int
    completion_tokens: int
    prices: tuple[int, int]
    cost_micros: int
    outcome: Outcome
    started_at: dt.datetime
    ended_at: dt.datetime


def month_of(moment: dt.datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"  # strftime costs ~10x as much


class Ledger:
    def __init__(self, db: Database, reservation_timeout_s: int = 900) -> None:
        self._db = db
        self._timeout = dt.timedelta(seconds=reservation_timeout_s)
        self._sql = ledger_sql(db)

    async def reserve(self, tenant_id: str, request_id: str, month: str, amount: int) -> bool:
        """Hold `amount` against the tenant's budget for `month`; False if it does not fit."""
        return await self._sql.reserve(
            {
                "tenant_id": tenant_id,
                "request_id": request_id,
                "month": month,
                "amount": amount,
                "expires_at": dt.datetime.now(dt.UTC) + self._timeout,
            }
        )

    async def settle(self, entry: UsageEntry | None, reservation: Reservation | None) -> None:
        """Record what a finished request used and release what it had reserved."""
        if entry is None and reservation is None:
            return
        params: dict[str, Any] = {"reservation_id": None, "reserved": 0}
        if reservation is not None:
            params.update(
                reservation_id=reservation.request_id,
                reserved=reservation.amount_micros,
                tenant_id=reservation.tenant_id,
                month=reservation.month,
            )
        if entry is not None:
            params.update(_record_params(entry))
        await self._sql.settle(params, release=reservation is not None, record=entry is not None)

    async def aclose(self) -> None:
        """Close the hot path's own connections (the server does at shutdown)."""
        await self._sql.aclose()

    def sweep_expired(self) -> int:
        """Release reservations whose request died with its process; returns how many."""
        now = dt.datetime.now(dt.UTC)
        with self._db.write() as session:
            expired = session.execute(
                delete(BudgetReservation)
                .where(BudgetReservation.expires_at < now)
                .returning(
                    BudgetReservation.tenant_id,
                    BudgetReservation.month,
                    BudgetReservation.amount_micros,
                )
            ).all()
            for tenant_id, month, amount in expired:
                session.execute(_unreserve(tenant_id, month, amount))
        return len(expired)


def ledger_sql(db: Database) -> BatchedLedgerSql:
    # Imported here: a process only loads its own database's driver (psycopg is ~9 MB).
    if db.dialect == "sqlite":
        from corral.metering.ledger_sqlite import SqliteLedgerSql

        return SqliteLedgerSql(db)
    from corral.metering.ledger_postgres import PostgresLedgerSql

    return PostgresLedgerSql(db)


def _unreserve(tenant_id: str, month: str, amount: int) -> Any:
    return (
        update(BudgetMonth)
        .where(and_(BudgetMonth.tenant_id == tenant_id, BudgetMonth.month == month))
        .values(reserved_micros=BudgetMonth.reserved_micros - amount)
    )


def _record_params(entry: UsageEntry) -> dict[str, Any]:
    return {
        "request_id": entry.request_id,
        "tenant_id": entry.tenant_id,
        "day_tenant": entry.tenant_id or "",
        "key_id": entry.key_id,
        "model": entry.model,
        "tier": entry.tier,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "input_price": entry.prices[0],
        "output_price": entry.prices[1],
        "cost": entry.cost_micros,
        "outcome": entry.outcome,
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
        "day": entry.started_at.date(),
        "month": month_of(entry.started_at),
    }
