"""What the usage page shows, computed from the usage service's daily rows: the month's
spend against the budget, a table per model and per key, and the bars of a daily chart (as
SVG coordinates, so the page needs no chart library and no script) for every model and key
or for one model and/or one key."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from corral.metering.usage import UsageRow
from corral.money import format_micros

CHART_WIDTH = 600
CHART_HEIGHT = 160
_AXIS = 20


@dataclass(frozen=True, slots=True)
class ModelLine:
    model: str
    tier: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: str


@dataclass(frozen=True, slots=True)
class KeyLine:
    key_id: str
    requests: int
    tokens: int
    cost: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    """The day and its cost, for the bar's tooltip and screen readers."""


@dataclass(frozen=True, slots=True)
class UsageSummary:
    spent: str
    spent_micros: int
    budget: str | None
    percent: int | None
    models: list[ModelLine]
    keys: list[KeyLine]
    bars: list[Bar]
    peak: str
    first_day: dt.date
    last_day: dt.date


def summarize(
    rows: Iterable[UsageRow],
    first: dt.date,
    last: dt.date,
    budget_micros: int | None,
    *,
    model: str | None = None,
    key_id: str | None = None,
) -> UsageSummary:
    """The totals and tables cover every row; the chart only `model`'s and `key_id`'s."""
    rows = list(rows)
    spent = sum(r.cost_micros for r in rows)
    percent = None
    if budget_micros:
        percent = min(100, round(spent * 100 / budget_micros))
    charted = [
        r
        for r in rows
        if (model is None or r.model == model) and (key_id is None or r.key_id == key_id)
    ]
    peak, bars = _bars(charted, first, last)
    return UsageSummary(
        spent=format_micros(spent),
        spent_micros=spent,
        budget=format_micros(budget_micros) if budget_micros is not None else None,
        percent=percent,
        models=_per_model(rows),
        keys=_per_key(rows),
        bars=bars,
        peak=format_micros(peak),
        first_day=first,
        last_day=last,
    )


def _per_model(rows: list[UsageRow]) -> list[ModelLine]:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        line = sums[(r.model, r.tier)]
        line[0] += r.requests
        line[1] += r.input_tokens
        line[2] += r.output_tokens
        line[3] += r.cost_micros
    return [
        ModelLine(model, tier, n, tin, tout, format_micros(cost))
        for (model, tier), (n, tin, tout, cost) in sorted(sums.items())
    ]


def _per_key(rows: list[UsageRow]) -> list[KeyLine]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        line = sums[r.key_id]
        line[0] += r.requests
        line[1] += r.input_tokens + r.output_tokens
        line[2] += r.cost_micros
    return [
        KeyLine(key, n, tokens, format_micros(cost))
        for key, (n, tokens, cost) in sorted(sums.items())
    ]


def earlier_months(today: dt.date, count: int = 12) -> list[str]:
    """This month and the `count - 1` before it, newest first (YYYY-MM)."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def _bars(rows: list[UsageRow], first: dt.date, last: dt.date) -> tuple[int, list[Bar]]:
    """One bar per day: its height is the day's cost against the busiest day's."""
    days = (last - first).days + 1
    per_day = [0] * days
    requests = [0] * days
    for r in rows:
        index = (r.day - first).days
        if 0 <= index < days:
            per_day[index] += r.cost_micros
            requests[index] += r.requests
    peak = max(per_day, default=0)
    slot = CHART_WIDTH / days
    usable = CHART_HEIGHT - _AXIS
    bars = []
    for index, cost in enumerate(per_day):
        # A day with requests but no cost (free models) still shows a sliver.
        height = usable * cost / peak if peak else 0.0
        if requests[index] and height < 2:
            height = 2.0
        day = first + dt.timedelta(days=index)
        bars.append(
            Bar(
                x=round(index * slot + slot * 0.15, 2),
                y=round(usable - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                label=f"{day.isoformat()}: {format_micros(cost)} ({requests[index]} requests)",
            )
        )
    return peak, bars
