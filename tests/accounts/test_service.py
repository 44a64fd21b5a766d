"""The async account services: a change made through them applies in this process at once, with
no wait for the revision poll."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corral.accounts.admin import AccountsAdmin, KeySpec
from corral.accounts.directory import AccountDirectory
from corral.accounts.keys import KeyHasher, prefix_of
from corral.accounts.prices import PriceOverrides
from corral.accounts.service import Accounts, Prices
from corral.errors import NotFound
from corral.settings import load_settings
from corral.storage import Database, open_database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(load_settings(database_url=database_url))
    yield database
    database.close()


async def test_a_budget_change_applies_here_before_the_next_refresh(db: Database) -> None:
    directory = AccountDirectory(db)
    accounts = Accounts(AccountsAdmin(db, KeyHasher(b"test")), db, directory)
    tenant = await accounts.create_tenant("acme", budget_micros=5_000_000)
    await directory.refresh()
    assert (await directory.tenant(tenant.id)) is not None  # now cached

    await accounts.update_tenant("acme", budget_micros=1)

    state = await directory.tenant(tenant.id)
    assert state is not None and state.budget_micros == 1


async def test_a_revoked_key_is_refused_here_at_once(db: Database) -> None:
    directory = AccountDirectory(db)
    accounts = Accounts(AccountsAdmin(db, KeyHasher(b"test")), db, directory)
    await accounts.create_tenant("acme")
    view, plaintext = await accounts.create_key("acme", KeySpec(name="app"))
    prefix = prefix_of(plaintext)
    assert prefix is not None
    before = await directory.key(prefix)  # now cached
    assert before is not None and not before.revoked

    await accounts.revoke_key(view.id)

    after = await directory.key(prefix)
    assert after is not None and after.revoked


async def test_a_price_override_applies_here_at_once(db: Database) -> None:
    directory = AccountDirectory(db)
    prices = Prices(PriceOverrides(db), db, directory)
    assert await directory.price_overrides() == {}  # now cached

    await prices.set("echo", 2_000_000, 3_000_000)

    assert await directory.price_overrides() == {"echo": (2_000_000, 3_000_000)}
    assert await prices.clear("echo") is True
    assert await directory.price_overrides() == {}


async def test_a_refused_change_changes_nothing(db: Database) -> None:
    directory = AccountDirectory(db)
    accounts = Accounts(AccountsAdmin(db, KeyHasher(b"test")), db, directory)

    with pytest.raises(NotFound):
        await accounts.update_tenant("nobody", budget_micros=1)

    assert await accounts.list_tenants() == []
