"""Fixtures of the metering tests: a database (SQLite and PostgreSQL, see `database_url`) and
its ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from corral.metering.ledger import Ledger
from corral.settings import load_settings
from corral.storage import Database, open_database


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path, database_url=database_url))
    yield database
    database.close()


@pytest.fixture
async def ledger(db: Database) -> AsyncIterator[Ledger]:
    opened = Ledger(db)
    yield opened
    await opened.aclose()
