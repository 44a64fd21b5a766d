"""The account directory's caches: dropped when another process changes the accounts."""

from __future__ import annotations

import pytest

from corral.accounts.admin import AccountsAdmin
from corral.accounts.directory import AccountDirectory
from corral.accounts.keys import KeyHasher
from corral.errors import StorageUnavailable
from corral.settings import load_settings
from corral.storage import open_database


async def test_a_change_made_elsewhere_is_seen_after_the_next_refresh(database_url: str) -> None:
    server = open_database(load_settings(database_url=database_url))
    elsewhere = open_database(load_settings(database_url=database_url))
    admin = AccountsAdmin(elsewhere, KeyHasher(b"test"))
    directory = AccountDirectory(server)
    tenant_id = admin.create_tenant("acme", budget_micros=5_000_000).id
    await directory.refresh()
    before = await directory.tenant(tenant_id)
    admin.update_tenant(tenant_id, budget_micros=1)

    cached = await directory.tenant(tenant_id)
    await directory.refresh()
    after = await directory.tenant(tenant_id)

    assert before is not None and cached is not None and after is not None
    assert before.budget_micros == cached.budget_micros == 5_000_000  # until the refresh
    assert after.budget_micros == 1
    server.close()
    elsewhere.close()


def test_a_plain_read_that_fails_names_the_database(database_url: str) -> None:
    db = open_database(load_settings(database_url=database_url))

    with pytest.raises(StorageUnavailable) as failed:
        db.scalar("SELECT revision FROM no_such_table")

    assert failed.value.detail is not None and "could not be read" in failed.value.detail
    assert "no_such_table" not in failed.value.message  # the driver's words are the operator's

    assert db.scalar("SELECT 7") == 7
    db.close()
