"""The ledger's writes on PostgreSQL: group-committed, one round trip a batch.

A batch's settlements are one statement (data-modifying CTEs over a JSON array of rows: one
execute however many there are); a reservation change is one statement or two, and a batch
holding any is sent in pipeline mode with one Sync. All on an asyncio connection pool.
Settlements and reservation grants wait for the WAL flush: a client never gets an answer whose
usage record could still be lost, and a reservation lost in a crash of the database could let
two replicas spend the same room. Reservations given back are written without waiting for it
(`synchronous_commit=off`):
one lost in a crash stays reserved until it expires and is swept.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
import psycopg.errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from corral.errors import StorageUnavailable
from corral.metering.group_commit import GroupCommit, Write
from corral.metering.ledger_sql import (
    DAY_ADD,
    DAY_KEY,
    PENDING_COLUMNS,
    PENDING_VALUES,
    RECORD_BILL,
    RECORD_COLUMNS,
    BatchedLedgerSql,
    request_id_reused,
)
from corral.privacy import audit_sql
from corral.storage import Database

_BATCHED = ("settle", "audit")
"""Write kinds sent as one statement for the whole batch (the others: one or two each)."""


def _pg(statement: str) -> str:
    """`:name` placeholders to psycopg's `%(name)s`."""
    return re.sub(r":([a-z_]+)", r"%(\1)s", statement)


_MONTH_ROW = _pg(
    "INSERT INTO budget_months (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, 0, 0) ON CONFLICT DO NOTHING"
)
# Add `wanted` to the reservation if that fits, else `needed`, else nothing; returns (granted,
# whether it existed). A reservation that is gone is made anew only if `create`. The month's
# row is locked first, so grants from other replicas wait for this one and see its result.
_GROW_RESERVATION = _pg(f"""
WITH reservation AS (
    SELECT 1 FROM budget_reservations WHERE id = :reservation_id FOR UPDATE
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
    WHERE EXISTS (SELECT 1 FROM reservation) OR :create
),
grown AS (
    UPDATE budget_months b SET reserved_micros = b.reserved_micros + plan.granted
    FROM plan WHERE b.tenant_id = :tenant_id AND b.month = :month AND plan.granted > 0
),
reserved AS (
    INSERT INTO budget_reservations AS r (id, tenant_id, month, amount_micros, expires_at)
    SELECT :reservation_id, :tenant_id, :month, plan.granted, :expires_at FROM plan
    WHERE plan.granted > 0 OR EXISTS (SELECT 1 FROM reservation)
    ON CONFLICT (id) DO UPDATE SET
        amount_micros = r.amount_micros + excluded.amount_micros,
        expires_at = excluded.expires_at
)
SELECT coalesce((SELECT granted FROM plan), 0), EXISTS (SELECT 1 FROM reservation)
""")
_OPEN_BILL = _pg(f"INSERT INTO pending_charges ({PENDING_COLUMNS}) VALUES ({PENDING_VALUES})")
_RECORD_BILL = _pg(RECORD_BILL)
_END_RESERVATION = _pg(
    "WITH released AS (DELETE FROM budget_reservations WHERE id = :reservation_id "
    "RETURNING amount_micros) "
    "UPDATE budget_months SET reserved_micros = reserved_micros - "
    "coalesce((SELECT sum(amount_micros) FROM released), 0) "
    "WHERE tenant_id = :tenant_id AND month = :month"
)
# A batch's settlements in one statement: their rows arrive as one JSON array, each becomes a
# usage record, and the rollups are added up per day row and per month row before they are
# written (an upsert may touch a row only once). Each part takes its rows in key order, and all
# processes run the same statement, so two batches lock shared rows in the same order. The cost
# moves from each request's reservation to the spend, if the reservation is still there (one
# swept meanwhile has already left the month's reserved amount). A settled stream's write-ahead
# bill goes in the same statement.
_SETTLE_COLUMNS = (
    "request_id text, tenant_id text, day_tenant text, key_id text, model text, tier text, "
    "prompt_tokens int8, completion_tokens int8, input_price int8, output_price int8, "
    "cached_tokens int8, cached_price int8, cost int8, outcome text, started_at timestamptz, "
    "ended_at timestamptz, day date, month text, reservation_id text, release int8, bill_id text"
)
_SETTLE = f"""
WITH w AS (SELECT * FROM json_to_recordset(%(rows)s::json) AS w({_SETTLE_COLUMNS})),
released AS (
    UPDATE budget_reservations r SET amount_micros = r.amount_micros - x.release
    FROM (SELECT reservation_id, sum(release) AS release FROM w WHERE release > 0
          GROUP BY reservation_id ORDER BY reservation_id) x
    WHERE r.id = x.reservation_id
    RETURNING r.tenant_id, r.month, x.release
),
dropped AS (
    DELETE FROM pending_charges p USING w WHERE p.request_id = w.bill_id
),
record AS (
    INSERT INTO usage_records ({RECORD_COLUMNS})
    SELECT request_id, tenant_id, key_id, model, tier, prompt_tokens, completion_tokens,
        input_price, output_price, cached_tokens, cached_price, cost, outcome, started_at,
        ended_at FROM w
),
day AS (
    INSERT INTO usage_daily AS d ({DAY_KEY}, requests, prompt_tokens, completion_tokens,
        cost_micros)
    SELECT day_tenant, day, model, tier, key_id, input_price, output_price, count(*),
        sum(prompt_tokens), sum(completion_tokens), sum(cost)
    FROM w GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT ({DAY_KEY}) DO UPDATE SET {DAY_ADD}
)
INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros)
SELECT tenant_id, month, sum(cost), 0 FROM w WHERE tenant_id IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (tenant_id, month) DO UPDATE SET
    spent_micros = b.spent_micros + excluded.spent_micros,
    reserved_micros = b.reserved_micros - coalesce((SELECT sum(x.release) FROM released x
        WHERE x.tenant_id = b.tenant_id AND x.month = b.month), 0)
"""


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
        """The writes in one transaction and one round trip: the settlements as one statement,
        any reservation changes before it, pipelined with one Sync at the end (an implicit
        transaction), so they all commit or none does."""
        settlements = [write for write in writes if write.kind == "settle"]
        changes = [write for write in writes if write.kind not in _BATCHED]
        audits = [row for write in writes for row in write.params.get("audits") or ()]
        try:
            if pool.closed:
                async with self._opening:  # opened on first use, in the loop that uses it
                    if pool.closed:
                        await pool.open()
            async with pool.connection() as connection:
                if not changes and not audits:  # the usual batch: one statement, no pipeline
                    await _settle(connection, settlements)
                    return [None] * len(writes)
                async with connection.pipeline():
                    cursors = [await _execute(connection, write) for write in changes]
                    await _settle(connection, settlements)
                    if audits:
                        rows = {"rows": audit_sql.postgres_rows(audits)}
                        await connection.execute(audit_sql.POSTGRES_AUDIT, rows, prepare=True)
                answers = iter(
                    [await _result(w, cursor) for w, cursor in zip(changes, cursors, strict=True)]
                )
                return [None if write.kind in _BATCHED else next(answers) for write in writes]
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


async def _settle(connection: psycopg.AsyncConnection[Any], settlements: list[Write]) -> None:
    if settlements:
        rows = orjson.dumps([write.params for write in settlements]).decode()  # dates: ISO 8601
        await connection.execute(_SETTLE, {"rows": rows}, prepare=True)


async def _execute(connection: psycopg.AsyncConnection[Any], write: Write) -> Any:
    """Sends a reservation change's statements; the cursor of the last one, which holds its
    result."""
    if write.kind == "open_bill":
        return await connection.execute(_OPEN_BILL, write.params, prepare=True)
    if write.kind == "record_bill":
        return await connection.execute(_RECORD_BILL, write.params, prepare=True)
    if write.kind == "grow_reservation":
        await connection.execute(_MONTH_ROW, write.params, prepare=True)
        return await connection.execute(_GROW_RESERVATION, write.params, prepare=True)
    return await connection.execute(_END_RESERVATION, write.params, prepare=True)


async def _result(write: Write, cursor: Any) -> Any:
    if write.kind != "grow_reservation":
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
