"""The database: one engine per process, SQLite in `CORRAL_HOME` by default or PostgreSQL.

Write transactions on SQLite start with `BEGIN IMMEDIATE`, so two writers queue on the lock
(`busy_timeout`) instead of one failing when it upgrades a read lock; readers use plain `BEGIN`
and, in WAL mode, never wait for writers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from corral.errors import ConfigError, StorageUnavailable
from corral.settings import Settings
from corral.storage.private import private_file

logger = logging.getLogger("corral.storage")

HEAD_REVISION = "0014"
"""The newest migration's revision (a test keeps it equal to Alembic's head)."""
_MIGRATION_LOCK = 0x636F7272  # any fixed number: PostgreSQL advisory lock held while migrating
_READONLY = "corral_readonly"
P = ParamSpec("P")
T = TypeVar("T")


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._reader = engine.execution_options(**{_READONLY: True})
        self._writes = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(self._reader, expire_on_commit=False)
        # Blocking driver calls run here, off the event loop. SQLite has one writer at a time
        # anyway; PostgreSQL gets as many threads as pooled connections.
        threads = 4 if self.dialect == "sqlite" else 16
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="corral-db")

    def submit(self, fn: Callable[[], object]) -> None:
        """Run blocking upkeep in a worker thread without waiting for it (errors are logged)."""

        def logged() -> None:
            try:
                fn()
            except Exception:
                logger.exception("database upkeep failed")

        self._executor.submit(logged)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database work in a worker thread.

        The work is shielded: if the awaiting task is cancelled (a client left), the work still
        runs to its end, so a usage record is never lost halfway.
        """
        future = self._executor.submit(fn, *args, **kwargs)
        return await asyncio.shield(asyncio.wrap_future(future))

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of a plain SQL read, or None. For polls made
        several times a second: no ORM statement to compile, far cheaper on SQLite."""
        with _storage_errors():
            connection = self.engine.raw_connection()  # from the pool, checked like any other
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            row = cursor.fetchone()
            cursor.close()
        except self.engine.dialect.loaded_dbapi.Error as exc:  # the driver's own, not wrapped
            raise StorageUnavailable(f"The database could not be read: {exc}") from exc
        finally:
            connection.close()  # back to the pool, which ends the read's transaction
        return None if row is None else row[0]

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        with _storage_errors(), self._writes.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with _storage_errors(), self._reads() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several processes start at once."""
        if self.schema_revision() == HEAD_REVISION:
            return  # nothing to do, and no Alembic loaded: it costs every worker memory
        from alembic import command
        from alembic.config import Config

        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config = Config()
            config.set_main_option("script_location", "corral.storage:migrations")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The revision the schema is at; None for a database corral has never opened."""
        try:
            with self.engine.connect() as connection:
                row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        except SQLAlchemyError:
            return None
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return f"sqlite:///{settings.home / 'corral.db'}"


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    url = database_url(settings)
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and str(path) != ":memory:":
            private_file(path)
        engine = _sqlite_engine(url)
    elif url.startswith("postgresql"):
        engine = create_engine(_psycopg(url), pool_size=10, max_overflow=10, pool_pre_ping=True)
    else:
        raise ConfigError("database_url must start with sqlite:// or postgresql+psycopg://")
    database = Database(engine)
    if migrate:
        try:
            database.migrate()
        except SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the database: {_first_line(exc)}") from None
    return database


def _psycopg(url: str) -> str:
    # psycopg 3 is the driver corral ships; a bare postgresql:// would ask for psycopg2.
    for bare in ("postgresql://", "postgresql+psycopg2://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url.removeprefix(bare)
    return url


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions begin in `_begin` below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=10000",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get(_READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        if _is_connectivity(exc):
            logger.error("database unavailable: %s", _first_line(exc))
            raise StorageUnavailable(f"database: {_first_line(exc)}") from exc
        raise


def _is_connectivity(exc: SQLAlchemyError) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
