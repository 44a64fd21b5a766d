"""What the usage page shows, computed from the usage service's daily rows: the month's
spend against the budget, a table per model, and the bars of a daily chart (as SVG
coordinates, so the page needs no chart library and no script)."""

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
    bars: list[Bar]
    peak: str
    first_day: dt.date
    last_day: dt.date


def summarize(
    rows: Iterable[UsageRow], first: dt.date, last: dt.date, budget_micros: int | None
) -> UsageSummary:
    rows = list(rows)
    spent = sum(r.cost_micros for r in rows)
    percent = None
    if budget_micros:
        percent = min(100, round(spent * 100 / budget_micros))
    peak, bars = _bars(rows, first, last)
    return UsageSummary(
        spent=format_micros(spent),
        spent_micros=spent,
        budget=format_micros(budget_micros) if budget_micros is not None else None,
        percent=percent,
        models=_per_model(rows),
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
