"""The usage page's numbers: spend against budget, per-model and per-key sums, one bar per
day (for every row, or one model's or one key's), the months one may pick."""

from __future__ import annotations

import datetime as dt

from corral.api.console.usage_view import CHART_HEIGHT, earlier_months, summarize
from corral.metering.usage import UsageRow

FIRST = dt.date(2026, 12, 1)
LAST = dt.date(2026, 12, 4)


def row(day: int, model: str, cost: int, requests: int = 1, key: str = "key_x") -> UsageRow:
    return UsageRow(dt.date(2026, 12, day), "acme", model, "premium", key, requests, 10, 5, cost)


def test_spend_budget_and_per_model_sums() -> None:
    rows = [row(1, "a", 1_000_000), row(3, "a", 500_000, 2), row(3, "b", 250_000)]

    summary = summarize(rows, FIRST, LAST, budget_micros=7_000_000)

    assert summary.spent == "1.750000" and summary.budget == "7.000000"
    assert summary.percent == 25
    assert [(m.model, m.requests, m.input_tokens, m.cost) for m in summary.models] == [
        ("a", 3, 20, "1.500000"),
        ("b", 1, 10, "0.250000"),
    ]


def test_one_bar_per_day_scaled_to_the_busiest_day() -> None:
    summary = summarize([row(1, "a", 100), row(3, "a", 50), row(4, "a", 0)], FIRST, LAST, None)

    heights = [bar.height for bar in summary.bars]
    assert len(heights) == 4
    assert heights[0] == CHART_HEIGHT - 20 and heights[2] == heights[0] / 2
    assert heights[1] == 0  # no requests that day
    assert heights[3] == 2.0  # requests, but free: still visible
    assert summary.budget is None and summary.percent is None
    assert summary.bars[2].label.startswith("2026-12-03: 0.000050")


def test_the_chart_of_one_key_or_model_while_the_totals_stay_whole() -> None:
    rows = [row(1, "a", 100, key="key_1"), row(2, "b", 100, key="key_2"), row(3, "a", 50)]

    by_key = summarize(rows, FIRST, LAST, None, key_id="key_1")
    by_model = summarize(rows, FIRST, LAST, None, model="a")
    both = summarize(rows, FIRST, LAST, None, model="b", key_id="key_1")

    assert [bar.height > 0 for bar in by_key.bars] == [True, False, False, False]
    assert [bar.height > 0 for bar in by_model.bars] == [True, False, True, False]
    assert all(bar.height == 0 for bar in both.bars)
    assert by_key.spent == "0.000250"  # the totals are the month's, whatever is charted
    assert [(k.key_id, k.requests, k.tokens, k.cost) for k in by_key.keys] == [
        ("key_1", 1, 15, "0.000100"),
        ("key_2", 1, 15, "0.000100"),
        ("key_x", 1, 15, "0.000050"),
    ]


def test_the_months_to_pick_cross_the_new_year() -> None:
    months = earlier_months(dt.date(2026, 2, 14), count=4)

    assert months == ["2026-02", "2026-01", "2025-12", "2025-11"]
