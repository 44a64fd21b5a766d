"""A fresh `CORRAL_HOME` is readable by the user running corral and nobody else: another
account on the machine cannot copy the database, the key secret or the admin key."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from corral.accounts.keys import key_hasher
from corral.catalog import added_models
from corral.cli.serve import resolve_admin_key
from corral.settings import LocalModelConfig, load_settings
from corral.storage import open_database


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common default, under which new files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_everything_corral_writes_in_a_new_home_is_private(
    tmp_path: Path, model_path: Path, usual_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORRAL_ADMIN_KEY", raising=False)
    home = tmp_path / "corral-home"
    settings = load_settings(home=home, embedded_model=False)

    database = open_database(settings)
    with database.write() as session:  # a write, so the -wal and -shm files exist
        session.execute(text("CREATE TABLE scratch (x INTEGER)"))
    key_hasher(home, None)
    resolve_admin_key(settings)
    added_models.add(home, LocalModelConfig(name="mine", path=model_path))
    found = modes(home)
    database.close()

    assert {"corral.db", "corral.db-wal", "corral.db-shm", "admin.key"} <= set(found)
    assert {"key-hmac.secret", "models.json"} <= set(found)
    assert found == {name: (0o700 if (home / name).is_dir() else 0o600) for name in found}


def test_a_sqlite_database_elsewhere_is_private_too(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "data" / "books.db"
    settings = load_settings(
        home=tmp_path / "home", embedded_model=False, database_url=f"sqlite:///{path}"
    )

    open_database(settings).close()

    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
