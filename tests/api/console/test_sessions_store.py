"""Console sessions end when idle, at their absolute end, on sign-out and with their key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.api.console.sessions import SessionStore
from corral.settings import ConsoleConfig
from corral.storage import Database
from corral.storage.tables import ConsoleSession
from tests.support import in_process_services


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    services = in_process_services(tmp_path)
    yield services.db
    services.db.close()


def _age(db: Database, **moved: dt.timedelta) -> None:
    """Move the session's times into the past, as if that much time had gone by."""
    with db.write() as session:
        for row in session.query(ConsoleSession):
            for column, delta in moved.items():
                setattr(row, column, getattr(row, column) - delta)


CONFIG = ConsoleConfig(idle_timeout_s=60, absolute_timeout_s=3600)


async def test_the_token_finds_its_session_and_only_its_hash_is_kept(db: Database) -> None:
    store = SessionStore(db, CONFIG)
    token, info = await store.open("tenant", "key_abc", "ten_1")

    found = await store.find(token)

    assert found == info
    assert await store.find(token + "x") is None
    with db.read() as session:
        ids = [row.id for row in session.query(ConsoleSession)]
    assert token not in ids and len(ids[0]) == 64


async def test_an_idle_session_ends(db: Database) -> None:
    store = SessionStore(db, CONFIG)
    token, _ = await store.open("tenant", "key_abc", "ten_1")
    _age(db, last_seen_at=dt.timedelta(seconds=61))

    assert await store.find(token) is None


async def test_a_busy_session_still_ends_at_its_absolute_end(db: Database) -> None:
    store = SessionStore(db, CONFIG)
    token, _ = await store.open("tenant", "key_abc", "ten_1")
    _age(db, expires_at=dt.timedelta(seconds=3601))

    assert await store.find(token) is None


async def test_ending_by_key_ends_only_that_keys_sessions(db: Database) -> None:
    store = SessionStore(db, CONFIG)
    first, _ = await store.open("tenant", "key_a", "ten_1")
    second, _ = await store.open("tenant", "key_a", "ten_1")
    other, _ = await store.open("tenant", "key_b", "ten_1")

    await store.end_for_key("key_a")

    assert await store.find(first) is None and await store.find(second) is None
    assert await store.find(other) is not None
