"""Money as integer micro-units of the configured currency, never floats.

Prices are per million tokens, so a price in micro-units per million tokens times a token
count is an exact integer of "micro-micro" units, rounded once per request.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICROS = 1_000_000
MAX_MICROS = 2**63 - 1
"""The most a BIGINT column holds: no stored amount may exceed it."""
_QUANTUM = Decimal("0.000001")
_MAX_AMOUNT = Decimal(MAX_MICROS) / MICROS


def to_micros(amount: Decimal) -> int:
    if amount != amount.quantize(_QUANTUM):
        raise ValueError(f"{amount} has more than 6 decimals")
    return int(amount * MICROS)


def parse_amount(text: str) -> int:
    """'12.5' → 12_500_000 micro-units; a clear ValueError for anything else."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"'{text}' is not an amount (write it like 12.50)") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"'{text}' is not an amount >= 0")
    # Before any arithmetic: '1e999999999' would be a billion-digit integer (or, at 1e30, a
    # quantize beyond Decimal's precision), and no column holds more than MAX_MICROS anyway.
    if amount > _MAX_AMOUNT:
        raise ValueError(f"'{text}' is too large")
    try:
        return to_micros(amount)
    except ValueError:
        raise ValueError(f"'{text}' has more than 6 decimals") from None


def format_micros(micros: int) -> str:
    """12_500_000 → '12.500000': the form invoices and the API use."""
    return str((Decimal(micros) / MICROS).quantize(_QUANTUM))


def cost_micros(
    prompt_tokens: int,
    completion_tokens: int,
    prices: tuple[int, int],
    cached_tokens: int = 0,
    cached_price: int | None = None,
) -> int:
    """The cost of a request: prices are micro-units per million tokens; rounded half up,
    once. `cached_tokens` (of `prompt_tokens`) cost `cached_price`, never more than the input
    price in force; without a cached price they cost the input price."""
    cached_price = prices[0] if cached_price is None else min(cached_price, prices[0])
    read = prompt_tokens - cached_tokens
    exact = read * prices[0] + cached_tokens * cached_price + completion_tokens * prices[1]
    return (exact + MICROS // 2) // MICROS


def max_cost_micros(prompt_tokens: int, max_completion: int, prices: tuple[int, int]) -> int:
    """An upper bound of `cost_micros` for any completion up to `max_completion` tokens."""
    exact = prompt_tokens * prices[0] + max_completion * prices[1]
    return -(-exact // MICROS)


def amount_or_none(micros: int | None) -> str | None:
    return None if micros is None else format_micros(micros)
