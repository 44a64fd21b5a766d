"""Money: integer micro-units, one rounding per request, and amounts typed by people."""

from __future__ import annotations

import re

import pytest

from corral.money import (
    cost_micros,
    format_micros,
    max_cost_micros,
    parse_amount,
)

# Prices are micro-units per million tokens: 1.234567 and 7.654321 per million.
PRICES = (1_234_567, 7_654_321)


def test_a_request_costs_its_exact_price_rounded_half_up_once() -> None:
    # 4 x 1_234_567 + 3 x 7_654_321 = 27_901_231 micro-micros = 27.901231 micro-units
    assert cost_micros(4, 3, PRICES) == 28
    # exactly half a micro-unit rounds up; just under half rounds down
    assert cost_micros(1, 0, (500_000, 0)) == 1
    assert cost_micros(1, 0, (499_999, 0)) == 0
    assert cost_micros(0, 3, (0, 500_000)) == 2  # 1.5 -> 2


def test_cached_prompt_tokens_cost_the_cached_price_in_the_one_rounding() -> None:
    # 1_000 cached at 0.123457 and 3_000 read at 1.234567 per million, 10 out at 7.654321:
    # 123_457_000 + 3_703_701_000 + 76_543_210 = 3_903_701_210 micro-micros -> 3_904 micros
    assert cost_micros(4_000, 10, PRICES, 1_000, 123_457) == 3_904
    assert cost_micros(4_000, 10, PRICES, 1_000, None) == cost_micros(4_000, 10, PRICES)
    # an input price lowered below the cached one (an operator's override) caps it
    assert cost_micros(100, 0, (50, 0), 100, 80) == cost_micros(100, 0, (50, 0))


def test_a_free_model_costs_nothing() -> None:
    assert cost_micros(10_000, 10_000, (0, 0)) == 0
    assert max_cost_micros(10_000, 10_000, (0, 0)) == 0


@pytest.mark.parametrize("prices", [PRICES, (500_000, 500_000), (1, 999_999), (3_000_000, 0)])
def test_the_reserved_maximum_covers_every_completion_up_to_the_cap(
    prices: tuple[int, int],
) -> None:
    prompt, cap = 37, 500

    bound = max_cost_micros(prompt, cap, prices)

    assert all(cost_micros(prompt, n, prices) <= bound for n in range(cap + 1))
    assert bound - cost_micros(prompt, cap, prices) <= 1  # and holds back at most 1 micro more


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("12.5", 12_500_000),
        (" 0 ", 0),
        ("0.000001", 1),
        ("1e3", 1_000_000_000),
        ("9223372036854.775807", 2**63 - 1),  # the most a BIGINT of micro-units holds
    ],
)
def test_amounts_are_read_exactly(text: str, micros: int) -> None:
    assert parse_amount(text) == micros


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("twelve", "is not an amount (write it like 12.50)"),
        ("", "is not an amount (write it like 12.50)"),
        ("-1", "is not an amount >= 0"),
        ("inf", "is not an amount >= 0"),
        ("NaN", "is not an amount >= 0"),
        ("0.0000001", "has more than 6 decimals"),
        ("1e30", "is too large"),  # beyond Decimal's precision once in micro-units
        ("10000000000000", "is too large"),  # 1e19 micro-units: more than a BIGINT holds
        ("1e999999999", "is too large"),  # refused before it becomes a billion-digit integer
    ],
)
def test_an_unusable_amount_is_refused_with_a_hint(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=rf"^'{text}' {re.escape(says)}$"):
        parse_amount(text)


def test_amounts_print_with_six_decimals_and_read_back() -> None:
    assert format_micros(12_500_000) == "12.500000"
    assert format_micros(1) == "0.000001"
    assert parse_amount(format_micros(987_654_321)) == 987_654_321
