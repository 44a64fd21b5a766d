"""The usage ledger and the budgets' reservations: the only writers of both.

A request is admitted with a hold against a reservation of its tenant's monthly budget that
its process made (`reservations`): `grow_reservation` adds to a reservation with one
conditional update, which the database applies atomically, so reservations in one process or
many can never reserve past the budget, and `end_reservation` gives one back. When a request
ends, `settle` writes, all or nothing: the usage record, the day's rollup, and its cost moved
from its reservation to the month's spend; it completes even if the request is cancelled
meanwhile. Writes that arrive together share one transaction (`group_commit`; the SQL, per
database, is in `ledger_sqlite` and `ledger_postgres`). A reservation left by a crashed process
expires and is swept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
class ReservationChange:
    granted: int
    """Added to the reservation: what was wanted, else what was needed, else nothing."""
    existed: bool
    """False for a reservation made now, or one that is gone."""


@dataclass(frozen=True, slots=True)
class Release:
    """What a settlement takes out of the request's reservation: its cost, at most its hold."""

    reservation_id: str
    amount: int


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
    cached_tokens: int = 0
    """Of `prompt_tokens`, those served from the prefix cache, billed at `cached_price`."""
    cached_price: int | None = None
    """None: cached tokens were billed at the input price (the model has no cached price)."""


def month_of(moment: dt.datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"  # strftime costs several times as much


class Ledger:
    def __init__(self, db: Database, reservation_timeout_s: int = 900) -> None:
        self._db = db
        self._timeout = dt.timedelta(seconds=reservation_timeout_s)
        self._sql = ledger_sql(db)

    async def grow_reservation(
        self,
        reservation_id: str,
        tenant_id: str,
        month: str,
        needed: int,
        wanted: int,
        create: bool = False,
        expires_in_s: float | None = None,
    ) -> ReservationChange:
        """In one transaction: add `wanted` to the reservation `reservation_id` if the tenant's
        budget for `month` has room for that, else `needed` if it has, else nothing; push its
        expiry back (by the reservation timeout, or `expires_in_s`: a queued job's quote waits
        longer than a process's reservation). A reservation that does not exist is made only
        if `create`: one that was swept (its process stalled past its expiry) stays gone, and
        nothing is granted."""
        timeout = self._timeout if expires_in_s is None else dt.timedelta(seconds=expires_in_s)
        granted, existed = await self._sql.grow_reservation(
            {
                "reservation_id": reservation_id,
                "tenant_id": tenant_id,
                "month": month,
                "needed": needed,
                "wanted": wanted,
                "create": create,
                "expires_at": dt.datetime.now(dt.UTC) + timeout,
            }
        )
        return ReservationChange(granted, existed)

    async def end_reservation(self, reservation_id: str, tenant_id: str, month: str) -> None:
        """Give the reservation back: what it still reserves leaves the month."""
        await self._sql.end_reservation(
            {"reservation_id": reservation_id, "tenant_id": tenant_id, "month": month}
        )

    async def settle(
        self,
        entry: UsageEntry,
        release: Release | None = None,
        audits: Sequence[dict[str, Any]] = (),
        written_ahead: bool = False,
    ) -> None:
        """Record what a finished request used, add its cost to the month's spend, and take
        `release` out of the request's reservation and the month's reserved amount (if the
        reservation is still there: one swept meanwhile has already left it); `audits`, the
        audit rows of its partner calls, and the deletion of its write-ahead bill (a stream's,
        `written_ahead`), go in the same transaction."""
        params = _record_params(entry)
        params["reservation_id"] = release.reservation_id if release is not None else None
        params["release"] = release.amount if release is not None else 0
        params["audits"] = list(audits)
        # By the id the bill was written under: the record's own may be renamed (`group_commit`).
        params["bill_id"] = entry.request_id if written_ahead else None
        await self._sql.settle(params)

    async def open_bill(self, values: dict[str, Any]) -> None:
        """Write a stream's write-ahead bill, a `pending_charges` row (`metering.pending`), in
        the ledger's next group commit."""
        await self._sql.open_bill(values)

    def record_bill(
        self, request_id: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> None:
        """A stream's tokens so far on its write-ahead bill (queued, not waited for)."""
        self._sql.record_bill(
            {
                "request_id": request_id,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cached_tokens": cached_tokens,
                "updated_at": dt.datetime.now(dt.UTC),
            }
        )

    async def audit(self, rows: Sequence[dict[str, Any]]) -> None:
        """Audit rows of partner calls that leave no usage record."""
        await self._sql.audit(list(rows))

    async def aclose(self) -> None:
        """Close the hot path's own connections (the server does at shutdown)."""
        await self._sql.aclose()

    def sweep_expired(self) -> int:
        """Give back the reservations of processes that died; returns how many."""
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
    # Imported here: a process only loads its own database's driver (and its memory).
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
        "cached_tokens": entry.cached_tokens,
        "cached_price": entry.cached_price,
        "cost": entry.cost_micros,
        "outcome": entry.outcome,
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
        "day": entry.started_at.date(),
        "month": month_of(entry.started_at),
    }
