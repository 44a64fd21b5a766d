"""Usage reports and invoices, read from the rollup, add up to exactly what the ledger holds."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import KeyHasher
from corral.errors import InvalidRequest
from corral.metering.ledger import Ledger, UsageEntry
from corral.metering.usage import UsageReports
from corral.money import cost_micros
from corral.storage import Database
from corral.storage.tables import BudgetMonth, UsageRecord

NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
BIG_OLD, BIG_NEW, SMALL = (3_000_000, 15_000_000), (2_500_000, 12_345_678), (150_000, 600_000)


@pytest.fixture
async def tenants(db: Database) -> dict[str, str]:
    """Two tenants' ids by name, and a month of their usage (and the operator's) in the ledger."""
    admin = AccountsAdmin(db, KeyHasher(b"test"))
    ids = {name: admin.create_tenant(name).id for name in ("acme", "globex")}
    acme, globex = ids["acme"], ids["globex"]
    ledger = Ledger(db)
    for n, (tenant, key, model, prices, when, tokens) in enumerate(
        [
            (acme, "key_a", "big", BIG_OLD, "2026-10-31T23:59:59", (1_000, 200)),  # October
            (acme, "key_a", "big", BIG_OLD, "2026-11-01T00:00:00", (1_234, 321)),
            (acme, "key_a", "big", BIG_OLD, "2026-11-01T17:30:00", (77, 1_001)),
            (acme, "key_b", "big", BIG_OLD, "2026-11-01T18:00:00", (500, 500)),
            (acme, "key_a", "big", BIG_NEW, "2026-11-01T20:00:00", (10, 10)),  # price changed
            (acme, "key_a", "big", BIG_NEW, "2026-11-15T09:00:00", (999, 333)),  # new price
            (acme, "key_a", "small", SMALL, "2026-11-15T09:01:00", (10_000, 3)),
            (acme, "key_b", "small", SMALL, "2026-11-30T23:59:59", (7, 7)),
            (acme, "key_b", "small", SMALL, "2026-12-01T00:00:00", (7, 7)),  # December
            (globex, "key_g", "big", BIG_NEW, "2026-11-15T10:00:00", (4_000, 4_000)),
            (None, "admin", "small", SMALL, "2026-11-15T11:00:00", (50, 50)),  # the operator
        ]
    ):
        started = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
        await ledger.settle(entry(f"req_{n}", tenant, key, model, prices, started, *tokens), None)
    await ledger.aclose()
    return ids


def entry(
    request_id: str,
    tenant_id: str | None,
    key_id: str,
    model: str,
    prices: tuple[int, int],
    started: dt.datetime,
    prompt: int,
    completion: int,
) -> UsageEntry:
    return UsageEntry(
        request_id=request_id,
        tenant_id=tenant_id,
        key_id=key_id,
        model=model,
        tier="premium",
        prompt_tokens=prompt,
        completion_tokens=completion,
        prices=prices,
        cost_micros=cost_micros(prompt, completion, prices),
        outcome="completed",
        started_at=started,
        ended_at=started + dt.timedelta(seconds=2),
    )


def ledger(db: Database, tenant_id: str | None = None) -> list[UsageRecord]:
    """The raw ledger rows of November (of one tenant, if given)."""
    with db.read() as session:
        records = session.scalars(select(UsageRecord)).all()
    return [
        r
        for r in records
        if NOVEMBER[0] <= r.started_at.date() <= NOVEMBER[1]
        and (tenant_id is None or r.tenant_id == tenant_id)
    ]


def sums(records: list[UsageRecord], *fields: str) -> dict[tuple[object, ...], Counter[str]]:
    """The ledger summed per the given record fields ('day' is the request's UTC date)."""
    out: dict[tuple[object, ...], Counter[str]] = {}
    for r in records:
        values = {"day": r.started_at.date(), **{c: getattr(r, c) for c in fields if c != "day"}}
        out.setdefault(tuple(values[f] for f in fields), Counter()).update(
            requests=1, input=r.prompt_tokens, output=r.completion_tokens, cost=r.cost_micros
        )
    return out


def test_a_tenants_daily_usage_equals_its_ledger(db: Database, tenants: dict[str, str]) -> None:
    rows = UsageReports(db, "USD").daily(*NOVEMBER, tenant_id=tenants["acme"])

    reported = {
        (row.day, row.model, row.tier, row.key_id): Counter(
            requests=row.requests,
            input=row.input_tokens,
            output=row.output_tokens,
            cost=row.cost_micros,
        )
        for row in rows
    }
    assert {row.tenant for row in rows} == {"acme"}
    assert reported == sums(ledger(db, tenants["acme"]), "day", "model", "tier", "key_id")
    assert [(r.day.day, r.model, r.key_id, r.requests) for r in rows] == [
        (1, "big", "key_a", 3),  # one row for the day, although the price changed that evening
        (1, "big", "key_b", 1),
        (15, "big", "key_a", 1),
        (15, "small", "key_a", 1),
        (30, "small", "key_b", 1),
    ]


def test_the_operators_report_covers_every_tenant_and_itself(
    db: Database, tenants: dict[str, str]
) -> None:
    rows = UsageReports(db, "USD").daily(*NOVEMBER)

    by_tenant = Counter[str | None]()
    for row in rows:
        by_tenant[row.tenant] += row.cost_micros
    names = {tenants["acme"]: "acme", tenants["globex"]: "globex"}
    expected = Counter[str | None]()
    for r in ledger(db):
        expected[names.get(r.tenant_id or "")] += r.cost_micros
    assert by_tenant == expected
    assert set(by_tenant) == {"acme", "globex", None}  # None: the operator's own requests


def test_reports_can_be_narrowed_to_a_model_or_a_key(db: Database, tenants: dict[str, str]) -> None:
    reports = UsageReports(db, "USD")

    small = reports.daily(*NOVEMBER, tenant_id=tenants["acme"], model="small")
    key_b = reports.daily(*NOVEMBER, tenant_id=tenants["acme"], key_id="key_b")

    assert {(r.day.day, r.model) for r in small} == {(15, "small"), (30, "small")}
    assert {(r.day.day, r.key_id) for r in key_b} == {(1, "key_b"), (30, "key_b")}


def test_an_invoice_bills_each_model_at_each_price_it_ran_at(
    db: Database, tenants: dict[str, str]
) -> None:
    invoice = UsageReports(db, "EUR").invoice(tenants["acme"], "acme", "2026-11")

    lines = {
        (line.model, line.tier, line.input_price_micros, line.output_price_micros): Counter(
            requests=line.requests,
            input=line.input_tokens,
            output=line.output_tokens,
            cost=line.amount_micros,
        )
        for line in invoice.lines
    }
    records = ledger(db, tenants["acme"])
    fields = ("model", "tier", "input_price_micros", "output_price_micros")
    assert lines == sums(records, *fields)
    assert [(line.model, line.input_price_micros) for line in invoice.lines] == [
        ("big", BIG_NEW[0]),
        ("big", BIG_OLD[0]),
        ("small", SMALL[0]),
    ]
    assert invoice.total_micros == sum(r.cost_micros for r in records)
    assert invoice.total_micros == spent(db, tenants["acme"], "2026-11")


def test_an_invoice_reads_as_money(db: Database, tenants: dict[str, str]) -> None:
    invoice = UsageReports(db, "EUR").invoice(tenants["globex"], "globex", "2026-11")

    body = invoice.as_json()

    # 4,000 x 2.5 + 4,000 x 12.345678 per million = 59,382.712 micro-units, billed once
    assert body["total"] == "0.059383"
    assert body["currency"] == "EUR"
    assert body["lines"] == [
        {
            "model": "big",
            "tier": "premium",
            "requests": 1,
            "input_tokens": 4_000,
            "output_tokens": 4_000,
            "input_price_per_million": "2.500000",
            "output_price_per_million": "12.345678",
            "amount": "0.059383",
        }
    ]


def test_a_month_without_usage_has_an_empty_invoice(db: Database, tenants: dict[str, str]) -> None:
    invoice = UsageReports(db, "USD").invoice(tenants["globex"], "globex", "2026-10")

    assert invoice.lines == []
    assert invoice.as_json()["total"] == "0.000000"


def test_unusable_periods_are_refused(db: Database) -> None:
    reports = UsageReports(db, "USD")

    with pytest.raises(InvalidRequest, match="not a month; write it as YYYY-MM") as month:
        reports.invoice("ten_x", "x", "2026-13")
    with pytest.raises(InvalidRequest, match="end_date is before start_date") as period:
        reports.daily(dt.date(2026, 11, 2), dt.date(2026, 11, 1))

    assert (month.value.param, period.value.param) == ("month", "end_date")


def spent(db: Database, tenant_id: str, month: str) -> int:
    with db.read() as session:
        row = session.get(BudgetMonth, (tenant_id, month))
    return 0 if row is None else row.spent_micros
