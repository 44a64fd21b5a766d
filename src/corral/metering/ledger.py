"""Budget reservations and settlement: the only writers of the ledger and the monthly spend.

Before a request runs, `reserve` holds its maximum possible cost against the tenant's monthly
budget with one conditional UPDATE, which the database applies atomically, so concurrent
requests (in one process or many) can never reserve past the budget. When the request ends,
`settle` writes in one transaction: the ledger row, the day's rollup, the month's spend, and
the release of the reservation. A reservation left by a crashed process expires and is swept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from corral.storage import Database
from corral.storage.tables import (
    BudgetMonth,
    BudgetReservation,
    Tenant,
    UsageDaily,
    UsageRecord,
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
    return moment.strftime("%Y-%m")


class Ledger:
    def __init__(self, db: Database, reservation_timeout_s: int = 900) -> None:
        self._db = db
        self._timeout = dt.timedelta(seconds=reservation_timeout_s)
        self._dialect: Any = postgresql if db.dialect == "postgresql" else sqlite

    def reserve(self, tenant_id: str, request_id: str, month: str, amount: int) -> bool:
        """Hold `amount` against the tenant's budget for `month`; False if it does not fit."""
        budget = select(Tenant.budget_micros).where(Tenant.id == tenant_id).scalar_subquery()
        with self._db.write() as session:
            session.execute(
                self._dialect.insert(BudgetMonth)
                .values(tenant_id=tenant_id, month=month, spent_micros=0, reserved_micros=0)
                .on_conflict_do_nothing()
            )
            held = session.execute(
                update(BudgetMonth)
                .where(
                    BudgetMonth.tenant_id == tenant_id,
                    BudgetMonth.month == month,
                    or_(
                        budget.is_(None),
                        BudgetMonth.spent_micros + BudgetMonth.reserved_micros + amount <= budget,
                    ),
                )
                .values(reserved_micros=BudgetMonth.reserved_micros + amount)
            )
            if held.rowcount != 1:  # type: ignore[attr-defined]
                return False
            session.execute(
                insert(BudgetReservation).values(
                    request_id=request_id,
                    tenant_id=tenant_id,
                    month=month,
                    amount_micros=amount,
                    expires_at=dt.datetime.now(dt.UTC) + self._timeout,
                )
            )
        return True

    def settle(self, entry: UsageEntry | None, reservation: Reservation | None) -> None:
        """Record what a finished request used and release what it had reserved."""
        with self._db.write() as session:
            if reservation is not None and not self._release(session, reservation):
                reservation = None  # swept already: its amount is no longer held
            if entry is None:
                return
            session.execute(insert(UsageRecord).values(**_record_values(entry)))
            self._add_to_day(session, entry)
            if entry.tenant_id is not None:
                self._add_to_month(session, entry)

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

    def _release(self, session: Any, reservation: Reservation) -> bool:
        gone = session.execute(
            delete(BudgetReservation).where(BudgetReservation.request_id == reservation.request_id)
        )
        if gone.rowcount != 1:
            return False
        session.execute(
            _unreserve(reservation.tenant_id, reservation.month, reservation.amount_micros)
        )
        return True

    def _add_to_day(self, session: Any, entry: UsageEntry) -> None:
        values = {
            "tenant_id": entry.tenant_id or "",
            "day": entry.started_at.date(),
            "model": entry.model,
            "tier": entry.tier,
            "key_id": entry.key_id,
            "input_price_micros": entry.prices[0],
            "output_price_micros": entry.prices[1],
            "requests": 1,
            "prompt_tokens": entry.prompt_tokens,
            "completion_tokens": entry.completion_tokens,
            "cost_micros": entry.cost_micros,
        }
        statement = self._dialect.insert(UsageDaily).values(**values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    "tenant_id",
                    "day",
                    "model",
                    "tier",
                    "key_id",
                    "input_price_micros",
                    "output_price_micros",
                ],
                set_={
                    "requests": UsageDaily.requests + 1,
                    "prompt_tokens": UsageDaily.prompt_tokens + entry.prompt_tokens,
                    "completion_tokens": UsageDaily.completion_tokens + entry.completion_tokens,
                    "cost_micros": UsageDaily.cost_micros + entry.cost_micros,
                },
            )
        )

    def _add_to_month(self, session: Any, entry: UsageEntry) -> None:
        statement = self._dialect.insert(BudgetMonth).values(
            tenant_id=entry.tenant_id,
            month=month_of(entry.started_at),
            spent_micros=entry.cost_micros,
            reserved_micros=0,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "month"],
                set_={"spent_micros": BudgetMonth.spent_micros + entry.cost_micros},
            )
        )


def _unreserve(tenant_id: str, month: str, amount: int) -> Any:
    return (
        update(BudgetMonth)
        .where(and_(BudgetMonth.tenant_id == tenant_id, BudgetMonth.month == month))
        .values(reserved_micros=BudgetMonth.reserved_micros - amount)
    )


def _record_values(entry: UsageEntry) -> dict[str, Any]:
    return {
        "request_id": entry.request_id,
        "tenant_id": entry.tenant_id,
        "key_id": entry.key_id,
        "model": entry.model,
        "tier": entry.tier,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "input_price_micros": entry.prices[0],
        "output_price_micros": entry.prices[1],
        "cost_micros": entry.cost_micros,
        "outcome": entry.outcome,
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
    }
