"""Upper bounds of the numbers an operator sets on accounts: budgets, MAU, key limits, prices.

Storage holds them in 64-bit integers (money in micro-units), so a larger number would fail
deep in the database as a 500. The account services check every number against these bounds
(the `[account_limits]` settings, far above anything real) and refuse it with a 400 naming the
field, the same for the admin API and the CLI.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from corral.errors import InvalidRequest
from corral.money import MAX_MICROS, MICROS, format_micros

INT32_MAX = 2**31 - 1
"""A key's rpm is an INTEGER column."""
INT64_MAX = 2**63 - 1
_MAX_AMOUNT = Decimal(MAX_MICROS) / MICROS


class AccountLimits(BaseModel):
    """`[account_limits]`: the largest value each account number may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_budget: Decimal = Field(default=Decimal(10**9), gt=0, le=_MAX_AMOUNT)
    """A tenant's monthly budget, in currency units."""
    max_price_per_mtok: Decimal = Field(default=Decimal(10**6), gt=0, le=_MAX_AMOUNT)
    """A model's price override per million tokens, in currency units."""
    max_mau: int = Field(default=10**11, ge=1, le=INT64_MAX)
    """A tenant's declared monthly active users."""
    max_rpm: int = Field(default=10**7, ge=1, le=INT32_MAX)
    """A key's requests per minute."""
    max_tpm: int = Field(default=10**11, ge=1, le=INT64_MAX)
    """A key's tokens per minute."""

    @model_validator(mode="after")
    def _whole_micro_units(self) -> Self:
        for amount in (self.max_budget, self.max_price_per_mtok):
            if amount != amount.quantize(Decimal("0.000001")):
                raise ValueError("an amount has at most 6 decimals (money is in micro-units)")
        return self

    def budget(self, micros: int | None, param: str = "budget") -> int | None:
        return _money(micros, self.max_budget, param, "max_budget")

    def price(self, micros: int, param: str) -> int:
        checked = _money(micros, self.max_price_per_mtok, param, "max_price_per_mtok")
        assert checked is not None
        return checked

    def mau(self, value: int | None, param: str = "mau") -> int | None:
        return _count(value, 0, self.max_mau, param, "max_mau")

    def rpm(self, value: int | None, param: str = "rpm") -> int | None:
        return _count(value, 1, self.max_rpm, param, "max_rpm")

    def tpm(self, value: int | None, param: str = "tpm") -> int | None:
        return _count(value, 1, self.max_tpm, param, "max_tpm")


def _money(micros: int | None, most: Decimal, param: str, setting: str) -> int | None:
    if micros is not None and micros < 0:
        raise InvalidRequest(
            f"Invalid value for '{param}': an amount >= 0.", param=param, code="invalid_value"
        )
    if micros is not None and micros > int(most * MICROS):
        shown = format_micros(int(most * MICROS)).rstrip("0").rstrip(".")
        raise _too_large(param, shown, setting)
    return micros


def _count(value: int | None, least: int, most: int, param: str, setting: str) -> int | None:
    if value is not None and value < least:
        raise InvalidRequest(
            f"Invalid value for '{param}': at least {least}.", param=param, code="invalid_value"
        )
    if value is not None and value > most:
        raise _too_large(param, str(most), setting)
    return value


def _too_large(param: str, most: str, setting: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid value for '{param}': at most {most} (account_limits.{setting}).",
        param=param,
        code="invalid_value",
    )
