"""The ledger's writes on PostgreSQL: group-committed, pipelined, one round trip a batch.

Each write is one statement (data-modifying CTEs) or two; a batch of them is sent in pipeline
mode with one Sync, on an asyncio connection pool. Settlements and slice grants wait for the
WAL flush: a client never gets an answer whose usage record could still be lost, and a slice
lost in a crash of the database could let two replicas spend the same room. Slices given back
are written without waiting for it (`synchronous_commit=off`): one lost in a crash stays
reserved until it expires and is swept.
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


def _pg(statement: str) -> str:
    """`:name` placeholders to psycopg's `%(name)s`."""
    return re.sub(r":([a-z_]+)", r"%(\1)s", statement)


_MONTH_ROW = _pg(
    "INSERT INTO budget_months (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, 0, 0) ON CONFLICT DO NOTHING"
)
# Add `wanted` to the slice if that fits, else `needed`, else nothing; returns (granted,
# whether the slice existed). A slice that is gone is made anew only if `create`. The month's
# row is locked first, so grants from other replicas wait for this one and see its result.
_GROW_LEASE = _pg(f"""
WITH lease AS (
    SELECT 1 FROM budget_reservations WHERE request_id = :lease_id FOR UPDATE
),
cap AS (
    SELECT coalesce((SELECT budget_micros FROM tenants WHERE id = :tenant_id), {2**63 - 1}) AS v
),
booked AS (
    SELECT spent_micros + reserved_micros AS v FROM budget_months
    WHERE tenant_id = :tenant_id AND month = :month FOR UPDATE
),
plan AS (
    SELECT CASE
        WHEN booked.v + :wanted <= cap.v THEN CAST(:wanted AS bigint)
        WHEN booked.v + :needed <= cap.v THEN CAST(:needed AS bigint)
        ELSE 0 END AS granted
    FROM booked, cap
    WHERE EXISTS (SELECT 1 FROM lease) OR :create
),
grown AS (
    UPDATE budget_months b SET reserved_micros = b.reserved_micros + plan.granted
    FROM plan WHERE b.tenant_id = :tenant_id AND b.month = :month AND plan.granted > 0
),
sliced AS (
    INSERT INTO budget_reservations AS r (request_id, tenant_id, month, amount_micros, expires_at)
    SELECT :lease_id, :tenant_id, :month, plan.granted, :expires_at FROM plan
    WHERE plan.granted > 0 OR EXISTS (SELECT 1 FROM lease)
    ON CONFLICT (request_id) DO UPDATE SET
        amount_micros = r.amount_micros + excluded.amount_micros,
        expires_at = excluded.expires_at
)
SELECT coalesce((SELECT granted FROM plan), 0), EXISTS (SELECT 1 FROM lease)
""")
_END_LEASE = _pg(
    "WITH released AS (DELETE FROM budget_reservations WHERE request_id = :lease_id "
    "RETURNING amount_micros) "
    "UPDATE budget_months SET reserved_micros = reserved_micros - "
    "coalesce((SELECT sum(amount_micros) FROM released), 0) "
    "WHERE tenant_id = :tenant_id AND month = :month"
)
# The cost moves from the request's slice to the spend, if the slice is still there (one swept
# meanwhile has already left the month's reservations).
_SETTLE_TENANT = _pg(
    "WITH released AS (UPDATE budget_reservations SET amount_micros = amount_micros - :release "
    "WHERE request_id = :lease_id AND :release > 0 RETURNING 1), "
    f"record AS (INSERT INTO usage_records ({RECORD_COLUMNS}) VALUES ({RECORD_VALUES})), "
    f"day AS ({DAY_INSERT}) "
    "INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, :cost, 0) ON CONFLICT (tenant_id, month) DO UPDATE SET "
    "spent_micros = b.spent_micros + excluded.spent_micros, reserved_micros = "
    "b.reserved_micros - CASE WHEN EXISTS (SELECT 1 FROM released) THEN :release ELSE 0 END"
)
_SETTLE_OPERATOR = _pg(
    f"WITH record AS (INSERT INTO usage_records ({RECORD_COLUMNS}) VALUES ({RECORD_VALUES})) "
    f"{DAY_INSERT}"
)


class PostgresLedgerSql(BatchedLedgerSql):
    def __init__(self, db: Database) -> None:
        url = db.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        self._pools = (_pool(conninfo, ""), _pool(conninfo, "-c synchronous_commit=off"))
        self._opening = asyncio.Lock()
        durable, volatile = self._pools
        super().__init__(
            durable=GroupCommit(lambda writes: self._commit(durable, writes)),
            volatile=GroupCommit(lambda writes: self._commit(volatile, writes)),
        )

    async def _commit(self, pool: AsyncConnectionPool, writes: Sequence[Write]) -> list[Any]:
        """The writes in one transaction and one round trip: pipelined, with one Sync at the
        end (an implicit transaction), so they all commit or none does."""
        try:
            if pool.closed:
                async with self._opening:  # opened on first use, in the loop that uses it
                    if pool.closed:
                        await pool.open()
            async with pool.connection() as connection:
                if len(writes) == 1 and writes[0].kind != "grow_lease":
                    cursors = [await _execute(connection, writes[0])]
                else:
                    async with connection.pipeline():
                        cursors = [await _execute(connection, write) for write in writes]
                return [
                    await _result(write, cursor)
                    for write, cursor in zip(writes, cursors, strict=True)
                ]
        except psycopg.IntegrityError as exc:  # the data, not the database
            raise request_id_reused() from exc
        except psycopg.errors.TransactionRollback:
            raise  # a deadlock or serialization failure: group commit retries the writes alone
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StorageUnavailable(f"The database is unavailable: {exc}") from exc

    async def aclose(self) -> None:
        await super().aclose()
        for pool in self._pools:
            if not pool.closed:
                await pool.close()


async def _execute(connection: psycopg.AsyncConnection[Any], write: Write) -> Any:
    """Sends the write's statements; the cursor of the last one, which holds its result."""
    if write.kind == "grow_lease":
        await connection.execute(_MONTH_ROW, write.params, prepare=True)
    return await connection.execute(_statement(write), write.params, prepare=True)


def _statement(write: Write) -> str:
    if write.kind == "grow_lease":
        return _GROW_LEASE
    if write.kind == "end_lease":
        return _END_LEASE
    if write.params["tenant_id"] is not None:
        return _SETTLE_TENANT
    return _SETTLE_OPERATOR


async def _result(write: Write, cursor: Any) -> Any:
    if write.kind != "grow_lease":
        return None
    granted, existed = await cursor.fetchone()
    return granted, existed


def _pool(conninfo: str, options: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        conninfo,
        kwargs={"autocommit": True, "options": options},
        min_size=1,
        max_size=16,
        timeout=10,
        open=False,
    )
