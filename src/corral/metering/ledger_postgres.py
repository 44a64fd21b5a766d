"""The ledger's writes on PostgreSQL: group-committed, pipelined, one round trip a batch.

Each write is a single statement (data-modifying CTEs); a batch of them is sent in pipeline
mode with one Sync, on an asyncio connection pool. Reservations are written without waiting for
the WAL flush (`synchronous_commit=off`): a hold lost in a crash was about to be swept anyway,
and the settlement that follows it commits durably, flushing everything before it. Settlements
wait for the flush: a client never gets an answer whose usage record could still be lost.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from corral.errors import StorageUnavailable
from corral.metering.group_commit import GroupCommit, Write
from corral.metering.ledger_sql import (
    DAY_INSERT,
    RECORD_COLUMNS,
    RECORD_VALUES,
    BatchedLedgerSql,
    request_id_reused,
)
from corral.storage import Database

_RESERVE = """
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

_RELEASED = (
    "released AS (DELETE FROM budget_reservations WHERE request_id = :reservation_id "
    "RETURNING amount_micros)"
)
_UNRESERVE = "coalesce((SELECT sum(amount_micros) FROM released), 0)"


def _pg(statement: str) -> str:
    """`:name` placeholders to psycopg's `%(name)s`."""
    return re.sub(r":([a-z_]+)", r"%(\1)s", statement)


_SETTLE_TENANT = _pg(
    f"WITH {_RELEASED}, "
    f"record AS (INSERT INTO usage_records ({RECORD_COLUMNS}) VALUES ({RECORD_VALUES})), "
    f"day AS ({DAY_INSERT}) "
    "INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, :cost, 0) ON CONFLICT (tenant_id, month) DO UPDATE SET "
    "spent_micros = b.spent_micros + excluded.spent_micros, "
    f"reserved_micros = b.reserved_micros - {_UNRESERVE}"
)
_SETTLE_OPERATOR = _pg(
    f"WITH record AS (INSERT INTO usage_records ({RECORD_COLUMNS}) VALUES ({RECORD_VALUES})) "
    f"{DAY_INSERT}"
)
_RELEASE_ONLY = _pg(
    f"WITH {_RELEASED} "
    f"UPDATE budget_months SET reserved_micros = reserved_micros - {_UNRESERVE} "
    "WHERE tenant_id = :tenant_id AND month = :month"
)


class PostgresLedgerSql(BatchedLedgerSql):
    def __init__(self, db: Database) -> None:
        url = db.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        self._durable = _pool(conninfo, "")
        self._volatile = _pool(conninfo, "-c synchronous_commit=off")
        self._opening = asyncio.Lock()
        super().__init__(
            holds=GroupCommit(lambda writes: self._commit(self._volatile, writes)),
            settlements=GroupCommit(lambda writes: self._commit(self._durable, writes)),
        )

    async def _commit(self, pool: AsyncConnectionPool, writes: Sequence[Write]) -> list[Any]:
        """The writes in one transaction and one round trip: pipelined, with one Sync at the
        end (an implicit transaction), so they all commit or none does."""
        keep = [write.wanted for write in writes]  # decided once: a caller may leave meanwhile
        wanted = [write for write, kept in zip(writes, keep, strict=True) if kept]
        if not wanted:
            return [False] * len(writes)
        try:
            if pool.closed:
                async with self._opening:  # opened on first use, in the loop that uses it
                    if pool.closed:
                        await pool.open()
            async with pool.connection() as connection:
                if len(wanted) == 1:
                    cursors = [await _execute(connection, wanted[0])]
                else:
                    async with connection.pipeline():
                        cursors = [await _execute(connection, write) for write in wanted]
        except psycopg.IntegrityError as exc:  # the data, not the database
            raise request_id_reused() from exc
        except psycopg.errors.TransactionRollback:
            raise  # a deadlock or serialization failure: group commit retries the writes alone
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StorageUnavailable(f"The database is unavailable: {exc}") from exc
        counts = iter([cursor.rowcount for cursor in cursors])
        return [
            _result(write, next(counts)) if kept else False
            for write, kept in zip(writes, keep, strict=True)
        ]

    async def aclose(self) -> None:
        await super().aclose()
        for pool in (self._durable, self._volatile):
            if not pool.closed:
                await pool.close()


async def _execute(connection: psycopg.AsyncConnection[Any], write: Write) -> Any:
    return await connection.execute(_statement(write), write.params, prepare=True)


def _statement(write: Write) -> str:
    if write.kind == "reserve":
        return _RESERVE
    if write.record and write.params["tenant_id"] is not None:
        return _SETTLE_TENANT
    if write.record:
        return _SETTLE_OPERATOR
    return _RELEASE_ONLY


def _result(write: Write, rowcount: int) -> bool | None:
    return rowcount == 1 if write.kind == "reserve" else None


def _pool(conninfo: str, options: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        conninfo,
        kwargs={"autocommit": True, "options": options},
        min_size=1,
        max_size=16,
        timeout=10,
        open=False,
    )
