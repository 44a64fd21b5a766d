"""Wire schema of usage reports: daily buckets of per-model, per-key results."""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Literal

from pydantic import BaseModel

from corral.errors import InvalidRequest
from corral.metering.usage import Invoice, UsageRow
from corral.money import format_micros


class UsageResult(BaseModel):
    object: Literal["usage.result"] = "usage.result"
    tenant: str | None = None
    model: str
    tier: str
    api_key_id: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: str


class UsageBucket(BaseModel):
    object: Literal["usage.bucket"] = "usage.bucket"
    date: dt.date
    results: list[UsageResult]


class UsageReport(BaseModel):
    object: Literal["list"] = "list"
    currency: str
    start_date: dt.date
    end_date: dt.date
    data: list[UsageBucket]
    total_cost: str

    @classmethod
    def of(
        cls,
        rows: list[UsageRow],
        currency: str,
        span: tuple[dt.date, dt.date],
        with_tenant: bool,
    ) -> UsageReport:
        buckets = [
            UsageBucket(
                date=day,
                results=[
                    UsageResult(
                        tenant=(row.tenant or "(operator)") if with_tenant else None,
                        model=row.model,
                        tier=row.tier,
                        api_key_id=row.key_id,
                        requests=row.requests,
                        input_tokens=row.input_tokens,
                        output_tokens=row.output_tokens,
                        cost=format_micros(row.cost_micros),
                    )
                    for row in group
                ],
            )
            for day, group in groupby(rows, key=lambda row: row.day)
        ]
        total = sum(row.cost_micros for row in rows)
        return cls(
            currency=currency,
            start_date=span[0],
            end_date=span[1],
            data=buckets,
            total_cost=format_micros(total),
        )


class InvoiceLineOut(BaseModel):
    model: str
    tier: str
    requests: int
    input_tokens: int
    output_tokens: int
    input_price_per_million: str
    output_price_per_million: str
    amount: str


class InvoiceOut(BaseModel):
    object: Literal["invoice"] = "invoice"
    tenant: str
    month: str
    currency: str
    lines: list[InvoiceLineOut]
    total: str

    @classmethod
    def of(cls, bill: Invoice) -> InvoiceOut:
        return cls.model_validate(bill.as_json())


def date_span(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    """The report's days: `start_date`..`end_date` inclusive, by default this month so far."""
    today = dt.datetime.now(dt.UTC).date()
    first = _parse(start, "start_date") if start else today.replace(day=1)
    last = _parse(end, "end_date") if end else today
    if last < first:
        raise InvalidRequest("end_date is before start_date.", param="end_date")
    if (last - first).days > 366:
        raise InvalidRequest("A usage report spans at most 366 days.", param="end_date")
    return first, last


def _parse(value: str, param: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{param} must be a date as YYYY-MM-DD.", param=param) from None
