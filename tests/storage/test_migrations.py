"""Migrations: a new database gets the whole schema, an old one keeps its data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from corral.settings import load_settings
from corral.storage.database import HEAD_REVISION, Database, open_database
from corral.storage.tables import Base
from tests.databases import postgres_database


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    db = open_database(load_settings(database_url=database_url))

    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    assert differences == []
    db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nothing has touched yet (the shared test database is already migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        with postgres_database() as url:
            yield url


def test_upgrading_an_older_database_keeps_its_data(fresh_database_url: str) -> None:
    engine = create_engine(fresh_database_url)
    old = Database(engine)
    _upgrade_to(old, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, name, policy, created_at, updated_at) "
                "VALUES ('ten_old', 'acme', 'allow', '2026-01-01', '2026-01-01')"
            )
        )

    old.migrate()  # what `corral serve` does at start

    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM tenants")).scalars().all()
        ledger = conn.execute(text("SELECT count(*) FROM usage_records")).scalar()
    assert names == ["acme"]
    assert ledger == 0
    old.close()


def test_budget_reservations_keep_their_rows_when_their_key_is_renamed(
    fresh_database_url: str,
) -> None:
    engine = create_engine(fresh_database_url)
    old = Database(engine)
    _upgrade_to(old, "0007")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO budget_reservations (request_id, tenant_id, month, amount_micros, "
                "expires_at) VALUES ('lease_1', 'ten_old', '2026-11', 700, '2026-11-30')"
            )
        )

    old.migrate()

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, tenant_id, amount_micros FROM budget_reservations")
        ).all()
    assert [tuple(row) for row in rows] == [("lease_1", "ten_old", 700)]
    old.close()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    db = open_database(load_settings(database_url=database_url))
    try:
        before = _revision_and_tables(db)

        db.migrate()  # what every further start does

        assert _revision_and_tables(db) == before
    finally:
        db.close()


def _revision_and_tables(db: Database) -> tuple[int, list[str]]:
    with db.engine.connect() as conn:
        revision = conn.execute(text("SELECT revision FROM accounts_revision")).scalar_one()
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return revision, [version]


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "corral.storage:migrations")
    return config


def _upgrade_to(db: Database, target: str) -> None:
    with db.engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, target)


def test_the_known_head_is_the_newest_migration() -> None:
    # A server that finds its schema at HEAD_REVISION skips Alembic; a new migration must move it.
    scripts = ScriptDirectory.from_config(_alembic_config())

    assert scripts.get_current_head() == HEAD_REVISION
