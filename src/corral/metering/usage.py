"""Usage reports and invoices, read from the daily rollup (never a scan of the raw ledger).

The rollup is written in the same transaction as each ledger row, so its sums equal the
ledger's exactly, and a month's report reads at most days x models x keys rows.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from corral.errors import InvalidRequest
from corral.money import format_micros
from corral.storage import Database
from corral.storage.tables import Tenant, UsageDaily


@dataclass(frozen=True, slots=True)
class UsageRow:
    day: dt.date
    tenant: str | None
    model: str
    tier: str
    key_id: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_micros: int


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    model: str
    tier: str
    input_price_micros: int
    output_price_micros: int
    requests: int
    input_tokens: int
    output_tokens: int
    amount_micros: int


INVOICE_COLUMNS = (
    "model",
    "tier",
    "requests",
    "input_tokens",
    "output_tokens",
    "input_price_per_million",
    "output_price_per_million",
    "amount",
)
"""The columns of an invoice as CSV (`corral invoice --format csv`, the console's download)."""


@dataclass(frozen=True, slots=True)
class Invoice:
    tenant: str
    month: str
    currency: str
    lines: list[InvoiceLine]

    @property
    def total_micros(self) -> int:
        return sum(line.amount_micros for line in self.lines)

    def as_json(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "month": self.month,
            "currency": self.currency,
            "lines": [
                {
                    "model": line.model,
                    "tier": line.tier,
                    "requests": line.requests,
                    "input_tokens": line.input_tokens,
                    "output_tokens": line.output_tokens,
                    "input_price_per_million": format_micros(line.input_price_micros),
                    "output_price_per_million": format_micros(line.output_price_micros),
                    "amount": format_micros(line.amount_micros),
                }
                for line in self.lines
            ],
            "total": format_micros(self.total_micros),
        }

    def rows(self) -> list[list[str]]:
        """A line per model, tier and price, as the CSV and the CLI's table show it."""
        return [
            [
                line.model,
                line.tier,
                str(line.requests),
                str(line.input_tokens),
                str(line.output_tokens),
                format_micros(line.input_price_micros),
                format_micros(line.output_price_micros),
                format_micros(line.amount_micros),
            ]
            for line in self.lines
        ]

    def total_row(self) -> list[str]:
        sums = (
            sum(line.requests for line in self.lines),
            sum(line.input_tokens for line in self.lines),
            sum(line.output_tokens for line in self.lines),
        )
        return ["total", "", *map(str, sums), "", "", format_micros(self.total_micros)]

    def as_csv(self) -> str:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(INVOICE_COLUMNS)
        writer.writerows([*self.rows(), self.total_row()])
        return text.getvalue()


def month_range(month: str) -> tuple[dt.date, dt.date]:
    """'2026-11' → (2026-11-01, 2026-11-30); a clear error for anything else."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise InvalidRequest(
            f"'{month}' is not a month; write it as YYYY-MM.", param="month"
        ) from None
    last = calendar.monthrange(start.year, start.month)[1]
    return start, start.replace(day=last)


class UsageReports:
    def __init__(self, db: Database, currency: str) -> None:
        self._db = db
        self.currency = currency

    def daily(
        self,
        start: dt.date,
        end: dt.date,
        *,
        tenant_id: str | None = None,
        model: str | None = None,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """Per day, tenant, model, tier and key, between `start` and `end` inclusive."""
        if end < start:
            raise InvalidRequest("end_date is before start_date.", param="end_date")
        query = (
            select(
                UsageDaily.day,
                Tenant.name,
                UsageDaily.model,
                UsageDaily.tier,
                UsageDaily.key_id,
                func.sum(UsageDaily.requests),
                func.sum(UsageDaily.prompt_tokens),
                func.sum(UsageDaily.completion_tokens),
                func.sum(UsageDaily.cost_micros),
            )
            .outerjoin(Tenant, Tenant.id == UsageDaily.tenant_id)
            .where(
                UsageDaily.day >= start,
                UsageDaily.day <= end,
                *_filters(tenant_id, model, key_id),
            )
            .group_by(
                UsageDaily.day, Tenant.name, UsageDaily.model, UsageDaily.tier, UsageDaily.key_id
            )
            .order_by(UsageDaily.day, Tenant.name, UsageDaily.model, UsageDaily.key_id)
        )
        with self._db.read() as session:
            rows = session.execute(query).all()
        return [
            UsageRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), int(r[7]), int(r[8]))
            for r in rows
        ]

    async def daily_rows(
        self,
        span: tuple[dt.date, dt.date],
        *,
        tenant_id: str | None = None,
        model: str | None = None,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """`daily` over `span`, read in a database thread."""
        return await self._db.run(
            lambda: self.daily(*span, tenant_id=tenant_id, model=model, key_id=key_id)
        )

    async def monthly_invoice(self, tenant_id: str, tenant_name: str, month: str) -> Invoice:
        """`invoice`, read in a database thread."""
        return await self._db.run(self.invoice, tenant_id, tenant_name, month)

    def invoice(self, tenant_id: str, tenant_name: str, month: str) -> Invoice:
        start, end = month_range(month)
        query = (
            select(
                UsageDaily.model,
                UsageDaily.tier,
                UsageDaily.input_price_micros,
                UsageDaily.output_price_micros,
                func.sum(UsageDaily.requests),
                func.sum(UsageDaily.prompt_tokens),
                func.sum(UsageDaily.completion_tokens),
                func.sum(UsageDaily.cost_micros),
            )
            .where(
                UsageDaily.tenant_id == tenant_id, UsageDaily.day >= start, UsageDaily.day <= end
            )
            .group_by(
                UsageDaily.model,
                UsageDaily.tier,
                UsageDaily.input_price_micros,
                UsageDaily.output_price_micros,
            )
            .order_by(UsageDaily.model, UsageDaily.tier, UsageDaily.input_price_micros)
        )
        with self._db.read() as session:
            rows = session.execute(query).all()
        lines = [
            InvoiceLine(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]))
            for r in rows
        ]
        return Invoice(tenant_name, month, self.currency, lines)


def _filters(
    tenant_id: str | None, model: str | None, key_id: str | None
) -> list[ColumnElement[bool]]:
    filters = []
    if tenant_id is not None:
        filters.append(UsageDaily.tenant_id == tenant_id)
    if model is not None:
        filters.append(UsageDaily.model == model)
    if key_id is not None:
        filters.append(UsageDaily.key_id == key_id)
    return filters
