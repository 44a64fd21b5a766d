"""The ledger's two hot statements, reserve and settle, in each database's own SQL.

They run on every billed request, so they skip the ORM and the hop to a worker thread (which
costs more than the statements on an idle machine). SQLite runs them as one short
`BEGIN IMMEDIATE` transaction on the event loop's own connection when the database is free,
and in a worker thread that waits for the lock when another writer holds it. PostgreSQL runs
each as a single statement (data-modifying CTEs) on an asyncio connection pool: one round trip.
Reservations are written there without waiting for the WAL flush (`synchronous_commit=off`):
a hold lost in a crash was about to be swept anyway, and the settlement that follows it commits
durably, flushing everything before it. Settlements wait for the flush: a client never gets an
answer whose usage record could still be lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from corral.errors import StorageUnavailable
from corral.storage import Database

T = TypeVar("T")
# (tenant, day, model, tier, key, input price, output price) identifies a rollup row.
_DAY_KEY = "tenant_id, day, model, tier, key_id, input_price_micros, output_price_micros"
_RECORD_COLUMNS = (
    "request_id, tenant_id, key_id, model, tier, prompt_tokens, completion_tokens, "
    "input_price_micros, output_price_micros, cost_micros, outcome, started_at, ended_at"
)
_RECORD_VALUES = (
    ":request_id, :tenant_id, :key_id, :model, :tier, :prompt_tokens, :completion_tokens, "
    ":input_price, :output_price, :cost, :outcome, :started_at, :ended_at"
)
_DAY_VALUES = (
    ":day_tenant, :day, :model, :tier, :key_id, :input_price, :output_price, 1, "
    ":prompt_tokens, :completion_tokens, :cost"
)
_DAY_UPDATE = (
    "requests = d.requests + 1, prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = d.completion_tokens + excluded.completion_tokens, "
    "cost_micros = d.cost_micros + excluded.cost_micros"
)
_DAY_INSERT = (
    f"INSERT INTO usage_daily AS d ({_DAY_KEY}, requests, prompt_tokens, completion_tokens, "
    f"cost_micros) VALUES ({_DAY_VALUES}) ON CONFLICT ({_DAY_KEY}) DO UPDATE SET {_DAY_UPDATE}"
)


class LedgerSql(Protocol):
    async def reserve(self, params: dict[str, Any]) -> bool: ...

    async def settle(self, params: dict[str, Any], release: bool, record: bool) -> None: ...

    async def aclose(self) -> None: ...


def ledger_sql(db: Database) -> LedgerSql:
    if db.dialect == "sqlite":
        return SqliteLedgerSql(db)
    return PostgresLedgerSql(db)


# -- SQLite --------------------------------------------------------------------------------------

_SQLITE_RESERVE = (
    "INSERT INTO budget_months (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, 0, 0) ON CONFLICT DO NOTHING",
    "UPDATE budget_months SET reserved_micros = reserved_micros + :amount "
    "WHERE tenant_id = :tenant_id AND month = :month AND ("
    "(SELECT budget_micros FROM tenants WHERE id = :tenant_id) IS NULL OR "
    "spent_micros + reserved_micros + :amount <= "
    "(SELECT budget_micros FROM tenants WHERE id = :tenant_id))",
    "INSERT INTO budget_reservations (request_id, tenant_id, month, amount_micros, expires_at) "
    "VALUES (:request_id, :tenant_id, :month, :amount, :expires_at)",
)
_SQLITE_RELEASE = (
    "DELETE FROM budget_reservations WHERE request_id = :reservation_id",
    "UPDATE budget_months SET reserved_micros = reserved_micros - :reserved "
    "WHERE tenant_id = :tenant_id AND month = :month",
)
_SQLITE_RECORD = (
    f"INSERT INTO usage_records ({_RECORD_COLUMNS}) VALUES ({_RECORD_VALUES})",
    _DAY_INSERT,
)
_SQLITE_SPEND = (
    "INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, :cost, 0) ON CONFLICT (tenant_id, month) "
    "DO UPDATE SET spent_micros = b.spent_micros + excluded.spent_micros"
)


class SqliteLedgerSql:
    def __init__(self, db: Database) -> None:
        path = db.engine.url.database
        assert path, "an in-memory SQLite database cannot be shared by threads"
        self._path = path
        self._db = db
        # One writer at a time in this process: a lock wakes its waiter at once, where
        # SQLite's own busy handler sleeps in growing steps.
        self._write_lock = threading.Lock()
        self._inline: sqlite3.Connection | None = None
        self._waiting: sqlite3.Connection | None = None
        self._checkpointing: sqlite3.Connection | None = None
        self._checkpoint_lock = threading.Lock()
        self._inline_commits = 0

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={busy_timeout_ms}"):
            connection.execute(f"PRAGMA {pragma}")
        return connection

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._write_lock.acquire(blocking=False):
            try:
                if self._inline is None:
                    self._inline = self._connect(busy_timeout_ms=0)  # never waits on the loop
                    # Folding the WAL back into the database takes milliseconds: never here.
                    self._inline.execute("PRAGMA wal_autocheckpoint=0")
                result = _run(self._inline, work)
                self._inline_commits += 1
                if self._inline_commits % _CHECKPOINT_EVERY == 0:
                    self._db.submit(self._checkpoint)
                return result
            except _Busy:
                pass  # another process is writing: wait for it off the event loop
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"The database is unavailable: {exc}") from exc
            finally:
                self._write_lock.release()
        return await self._db.run(self._waiting_transaction, work)

    def _waiting_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._write_lock:
            if self._waiting is None:
                self._waiting = self._connect(busy_timeout_ms=10_000)
            try:
                return _run(self._waiting, work)
            except (sqlite3.Error, _Busy) as exc:
                raise StorageUnavailable(f"The database is unavailable: {exc}") from exc

    async def reserve(self, params: dict[str, Any]) -> bool:
        values = _sqlite_values(params)

        def work(connection: sqlite3.Connection) -> bool:
            connection.execute(_SQLITE_RESERVE[0], values)
            if connection.execute(_SQLITE_RESERVE[1], values).rowcount != 1:
                return False
            connection.execute(_SQLITE_RESERVE[2], values)
            return True

        return await self._transaction(work)

    async def settle(self, params: dict[str, Any], release: bool, record: bool) -> None:
        values = _sqlite_values(params)

        def work(connection: sqlite3.Connection) -> None:
            if release and connection.execute(_SQLITE_RELEASE[0], values).rowcount == 1:
                connection.execute(_SQLITE_RELEASE[1], values)
            if record:
                for statement in _SQLITE_RECORD:
                    connection.execute(statement, values)
                if values["tenant_id"] is not None:
                    connection.execute(_SQLITE_SPEND, values)

        await self._transaction(work)

    def _checkpoint(self) -> None:
        with self._checkpoint_lock:
            if self._checkpointing is None:
                self._checkpointing = self._connect(busy_timeout_ms=1_000)
            self._checkpointing.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def aclose(self) -> None:
        with self._checkpoint_lock:
            for connection in (self._inline, self._waiting, self._checkpointing):
                if connection is not None:
                    connection.close()
            self._inline = self._waiting = self._checkpointing = None


_CHECKPOINT_EVERY = 200
"""Inline commits between two WAL checkpoints (run in a worker thread, never blocking writers)."""


class _Busy(Exception):
    """Another connection holds SQLite's write lock."""


def _run(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise _Busy(str(exc)) from exc
        raise
    try:
        result = work(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


def _sqlite_values(params: dict[str, Any]) -> dict[str, Any]:
    # The same text forms SQLAlchemy's SQLite types write, so both read each other's rows.
    out = dict(params)
    for name, value in params.items():
        if isinstance(value, dt.datetime):
            out[name] = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        elif isinstance(value, dt.date):
            out[name] = value.isoformat()
    return out


# -- PostgreSQL ----------------------------------------------------------------------------------

_PG_RESERVE = """
WITH budget AS (SELECT budget_micros AS cap FROM tenants WHERE id = %(tenant_id)s),
held AS (
    INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros)
    SELECT %(tenant_id)s, %(month)s, 0, %(amount)s FROM budget
    WHERE budget.cap IS NULL OR %(amount)s <= budget.cap
    ON CONFLICT (tenant_id, month) DO UPDATE SET reserved_micros = b.reserved_micros + %(amount)s
    WHERE (SELECT cap FROM budget) IS NULL
       OR b.spent_micros + b.reserved_micros + %(amount)s <= (SELECT cap FROM budget)
    RETURNING 1
)
INSERT INTO budget_reservations (request_id, tenant_id, month, amount_micros, expires_at)
SELECT %(request_id)s, %(tenant_id)s, %(month)s, %(amount)s, %(expires_at)s FROM held
"""

_PG_RELEASED = (
    "released AS (DELETE FROM budget_reservations WHERE request_id = :reservation_id "
    "RETURNING amount_micros)"
)
_PG_UNRESERVE = "coalesce((SELECT sum(amount_micros) FROM released), 0)"


def _pg(statement: str) -> str:
    """`:name` placeholders to psycopg's `%(name)s`."""
    return re.sub(r":([a-z_]+)", r"%(\1)s", statement)


_PG_SETTLE_TENANT = _pg(
    f"WITH {_PG_RELEASED}, "
    f"record AS (INSERT INTO usage_records ({_RECORD_COLUMNS}) VALUES ({_RECORD_VALUES})), "
    f"day AS ({_DAY_INSERT}) "
    "INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, :cost, 0) ON CONFLICT (tenant_id, month) DO UPDATE SET "
    "spent_micros = b.spent_micros + excluded.spent_micros, "
    f"reserved_micros = b.reserved_micros - {_PG_UNRESERVE}"
)
_PG_SETTLE_OPERATOR = _pg(
    f"WITH record AS (INSERT INTO usage_records ({_RECORD_COLUMNS}) VALUES ({_RECORD_VALUES})) "
    f"{_DAY_INSERT}"
)
_PG_RELEASE_ONLY = _pg(
    f"WITH {_PG_RELEASED} "
    f"UPDATE budget_months SET reserved_micros = reserved_micros - {_PG_UNRESERVE} "
    "WHERE tenant_id = :tenant_id AND month = :month"
)


class PostgresLedgerSql:
    def __init__(self, db: Database) -> None:
        url = db.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        self._durable = _pool(conninfo, "")
        self._volatile = _pool(conninfo, "-c synchronous_commit=off")
        self._opening = asyncio.Lock()

    async def _execute(
        self, pool: AsyncConnectionPool, statement: str, params: dict[str, Any]
    ) -> int:
        try:
            if pool.closed:
                async with self._opening:  # opened on first use, in the loop that uses it
                    if pool.closed:
                        await pool.open()
            async with pool.connection() as connection:
                cursor = await connection.execute(statement, params, prepare=True)
                rowcount: int = cursor.rowcount
                return rowcount
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StorageUnavailable(f"The database is unavailable: {exc}") from exc

    async def reserve(self, params: dict[str, Any]) -> bool:
        return await self._execute(self._volatile, _PG_RESERVE, params) == 1

    async def settle(self, params: dict[str, Any], release: bool, record: bool) -> None:
        if record and params["tenant_id"] is not None:
            await self._execute(self._durable, _PG_SETTLE_TENANT, params)
        elif record:
            await self._execute(self._durable, _PG_SETTLE_OPERATOR, params)
        elif release:
            await self._execute(self._volatile, _PG_RELEASE_ONLY, params)

    async def aclose(self) -> None:
        for pool in (self._durable, self._volatile):
            if not pool.closed:
                await pool.close()


def _pool(conninfo: str, options: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        conninfo,
        kwargs={"autocommit": True, "options": options},
        min_size=1,
        max_size=16,
        timeout=10,
        open=False,
    )
