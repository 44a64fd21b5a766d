"""The numbers an operator sets on accounts stay within what storage holds.

Each test runs on SQLite and on PostgreSQL: the largest value the `[account_limits]` allow
is stored and read back as it was, and one more is refused naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from corral.accounts.admin import AccountsAdmin, KeySpec
from corral.accounts.bounds import INT32_MAX, INT64_MAX, AccountLimits
from corral.accounts.keys import KeyHasher
from corral.accounts.prices import PriceOverrides
from corral.errors import ConfigError, InvalidRequest
from corral.money import MAX_MICROS
from corral.settings import load_settings
from corral.storage import Database, open_database

# The widest bounds the settings accept: what the columns themselves hold.
WIDEST = AccountLimits(
    max_budget=Decimal(MAX_MICROS) / 1_000_000,
    max_price_per_mtok=Decimal(MAX_MICROS) / 1_000_000,
    max_mau=INT64_MAX,
    max_rpm=INT32_MAX,
    max_tpm=INT64_MAX,
)


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path, database_url=database_url))
    yield database
    database.close()


def test_the_widest_bounds_still_fit_the_columns(db: Database) -> None:
    admin = AccountsAdmin(db, KeyHasher(b"test"), limits=WIDEST)

    tenant = admin.create_tenant("acme", budget_micros=MAX_MICROS, mau=INT64_MAX)
    key, _ = admin.create_key("acme", KeySpec(rpm=INT32_MAX, tpm=INT64_MAX))
    price = PriceOverrides(db, WIDEST).set("echo", MAX_MICROS, MAX_MICROS)

    assert admin.get_tenant(tenant.id).budget == "9223372036854.775807"
    assert admin.get_tenant(tenant.id).mau == INT64_MAX
    assert (key.rpm, key.tpm) == (INT32_MAX, INT64_MAX)
    assert price.input_micros == price.output_micros == MAX_MICROS


def test_numbers_beyond_the_limits_are_refused_naming_the_field(db: Database) -> None:
    admin = AccountsAdmin(db, KeyHasher(b"test"))  # the default limits
    admin.create_tenant("acme")
    tries: dict[str, Callable[[], object]] = {
        "budget": lambda: admin.create_tenant("b", budget_micros=10**9 * 10**6 + 1),
        "mau": lambda: admin.update_tenant("acme", mau=10**11 + 1),
        "rpm": lambda: admin.create_key("acme", KeySpec(rpm=10**7 + 1)),
        "tpm": lambda: admin.create_key("acme", KeySpec(tpm=2**63)),
        "input": lambda: PriceOverrides(db).set("echo", 10**12 + 1, 0),
        "output": lambda: PriceOverrides(db).set("echo", 0, -1),
    }

    for param, attempt in tries.items():
        with pytest.raises(InvalidRequest) as refused:
            attempt()
        assert refused.value.param == param
        assert refused.value.status_code == 400
    assert [t.name for t in admin.list_tenants()] == ["acme"]
    assert admin.get_tenant("acme").mau is None
    assert admin.list_keys() == []


def test_the_message_names_the_setting_that_bounds_the_field() -> None:
    with pytest.raises(InvalidRequest, match=r"at most 1000000000 \(account_limits.max_budget\)"):
        AccountLimits().budget(10**15 + 1)
    with pytest.raises(InvalidRequest, match=r"at most 0.5 \(account_limits.max_price_per_mtok"):
        AccountLimits(max_price_per_mtok=Decimal("0.5")).price(500_001, "input")


def test_limits_beyond_storage_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"account_limits\.max_rpm"):
        load_settings(home=tmp_path, account_limits={"max_rpm": INT32_MAX + 1})
    with pytest.raises(ConfigError, match=r"account_limits\.max_budget"):
        load_settings(home=tmp_path, account_limits={"max_budget": "1e13"})
