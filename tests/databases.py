"""The test suite's databases: SQLite files, and one PostgreSQL database per test run.

PostgreSQL and Redis are this machine's own (127.0.0.1:5432 and :6379; `make test` starts
them when they are down). Set `CORRAL_TEST_POSTGRES` / `CORRAL_TEST_REDIS` to point elsewhere.
A run creates `corral_test_<random>` and drops it at the end; each test empties its tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis
from sqlalchemy import create_engine, text

from corral.storage.tables import Base

POSTGRES_SERVER = os.environ.get(
    "CORRAL_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CORRAL_TEST_REDIS", "redis://127.0.0.1:6379/0")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this run; its SQLAlchemy URL."""
    name = f"corral_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Delete every row a test left (the schema and the revision row stay)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name != "accounts_revision":
                    conn.execute(text(f"DELETE FROM {table.name}"))
    finally:
        engine.dispose()


@contextmanager
def redis_namespace() -> Iterator[str]:
    """A key prefix of this run's own in the machine's Redis, removed afterwards."""
    namespace = f"corral-test-{secrets.token_hex(4)}"
    try:
        yield namespace
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()
