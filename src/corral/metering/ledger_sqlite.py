"""The ledger's writes on SQLite: group-committed transactions on the event loop's own connection.

A batch of settlements and budget-reservation changes (`group_commit`) runs as one
`BEGIN IMMEDIATE` transaction, on the event loop's own connection when the database is free (a
hop to a worker thread costs more than the statements on an idle machine), and in a worker
thread that waits for the lock when another process is writing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from corral.errors import StorageUnavailable
from corral.metering.group_commit import GroupCommit, Write
from corral.metering.ledger_sql import (
    DAY_ADD,
    DAY_KEY,
    PENDING_COLUMNS,
    PENDING_VALUES,
    RECORD_BILL,
    RECORD_COLUMNS,
    RECORD_VALUES,
    BatchedLedgerSql,
    request_id_reused,
)
from corral.privacy import audit_sql
from corral.storage import Database

T = TypeVar("T")

_MONTH_ROW = (
    "INSERT INTO budget_months (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, 0, 0) ON CONFLICT DO NOTHING"
)
_GRANT = (
    "UPDATE budget_months SET reserved_micros = reserved_micros + :amount "
    "WHERE tenant_id = :tenant_id AND month = :month AND spent_micros + reserved_micros + "
    f":amount <= IFNULL((SELECT budget_micros FROM tenants WHERE id = :tenant_id), {2**63 - 1})"
)
_UNRESERVE = (
    "UPDATE budget_months SET reserved_micros = reserved_micros - :amount "
    "WHERE tenant_id = :tenant_id AND month = :month"
)
_RESERVATION_EXISTS = "SELECT 1 FROM budget_reservations WHERE id = :reservation_id"
_RESERVATION_GROW = (
    "UPDATE budget_reservations SET amount_micros = amount_micros + :granted, "
    "expires_at = :expires_at WHERE id = :reservation_id"
)
_RESERVATION_NEW = (
    "INSERT INTO budget_reservations (id, tenant_id, month, amount_micros, expires_at) "
    "VALUES (:reservation_id, :tenant_id, :month, :granted, :expires_at)"
)
_RESERVATION_END = (
    "DELETE FROM budget_reservations WHERE id = :reservation_id RETURNING amount_micros"
)
_RESERVATION_RELEASE = (
    "UPDATE budget_reservations SET amount_micros = amount_micros - :release "
    "WHERE id = :reservation_id"
)
_RELEASE_AND_SPEND = (
    "UPDATE budget_months SET reserved_micros = reserved_micros - :release, "
    "spent_micros = spent_micros + :cost WHERE tenant_id = :tenant_id AND month = :month"
)
_OPEN_BILL = f"INSERT INTO pending_charges ({PENDING_COLUMNS}) VALUES ({PENDING_VALUES})"
_DROP_BILL = "DELETE FROM pending_charges WHERE request_id = ?"
_RECORD = f"INSERT INTO usage_records ({RECORD_COLUMNS}) VALUES ({RECORD_VALUES})"
_DAY_ADD = (
    f"INSERT INTO usage_daily AS d ({DAY_KEY}, requests, prompt_tokens, completion_tokens, "
    f"cost_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT ({DAY_KEY}) DO UPDATE "
    f"SET {DAY_ADD}"
)
_SPEND = (
    "INSERT INTO budget_months AS b (tenant_id, month, spent_micros, reserved_micros) "
    "VALUES (:tenant_id, :month, :cost, 0) ON CONFLICT (tenant_id, month) "
    "DO UPDATE SET spent_micros = b.spent_micros + excluded.spent_micros"
)


class SqliteLedgerSql(BatchedLedgerSql):
    def __init__(self, db: Database) -> None:
        # Every write shares each transaction: SQLite has one writer at a time anyway.
        batches = GroupCommit(self._commit)
        super().__init__(durable=batches, volatile=batches)
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
        self._months: set[tuple[str, str]] = set()

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        pragmas = ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={busy_timeout_ms}")
        for pragma in (*pragmas, f"journal_size_limit={_WAL_SIZE_LIMIT}"):
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
            except sqlite3.IntegrityError as exc:  # the data, not the database
                raise request_id_reused() from exc
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
            except sqlite3.IntegrityError as exc:
                raise request_id_reused() from exc
            except (sqlite3.Error, _Busy) as exc:
                raise StorageUnavailable(f"The database is unavailable: {exc}") from exc

    async def _commit(self, writes: Sequence[Write]) -> list[Any]:
        months = self._months
        return await self._transaction(lambda conn: _apply_batch(conn, writes, months))

    def _checkpoint(self) -> None:
        with self._checkpoint_lock:
            if self._checkpointing is None:
                self._checkpointing = self._connect(busy_timeout_ms=1_000)
            # Copying pages back takes milliseconds (two fsyncs): commits go on meanwhile...
            _, frames, _ = self._checkpointing.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames < _WAL_RESTART_FRAMES:
                return
            # ...but then the WAL never starts over: it grows by every commit under steady load.
            # Once it is large, the frames committed meanwhile are copied with writers held back
            # (a commit or two waits a few ms), so the next writer finds it all copied and
            # starts the WAL over from its beginning.
            with self._write_lock:
                self._checkpointing.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def aclose(self) -> None:
        await super().aclose()
        with self._checkpoint_lock:
            for connection in (self._inline, self._waiting, self._checkpointing):
                if connection is not None:
                    connection.close()
            self._inline = self._waiting = self._checkpointing = None


_CHECKPOINT_EVERY = 200
"""Inline commits between two WAL checkpoints (run in a worker thread; writers wait only for
the last pages of one that makes a large WAL start over)."""


_WAL_RESTART_FRAMES = 3_000
"""WAL frames (pages: 12 MB) past which a checkpoint makes the WAL start over."""

_WAL_SIZE_LIMIT = 16 * 1024 * 1024
"""Bytes of WAL file kept when the WAL starts over (a burst may have left it larger)."""


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


def _apply_batch(
    connection: sqlite3.Connection, writes: Sequence[Write], months: set[tuple[str, str]]
) -> list[Any]:
    """A batch's statements, inside its transaction; each write's result, in order.
    `months`: the (tenant, month) budget rows this connection has seen exist, which a
    reservation then need not create."""
    settlements = [_sqlite_values(w.params) for w in writes if w.kind == "settle"]
    if settlements:
        _settle(connection, settlements)
    audits = [row for w in writes for row in w.params.get("audits") or ()]
    if audits:
        audit_sql.write_sqlite(connection, audits)
    return [_apply(connection, w, months) for w in writes]


def _apply(connection: sqlite3.Connection, write: Write, months: set[tuple[str, str]]) -> Any:
    if write.kind == "grow_reservation":
        return _grow_reservation(connection, _sqlite_values(write.params), months)
    if write.kind == "open_bill":
        connection.execute(_OPEN_BILL, _sqlite_values(write.params))
    elif write.kind == "record_bill":
        connection.execute(RECORD_BILL, _sqlite_values(write.params))
    elif write.kind == "end_reservation":
        values = write.params
        released = connection.execute(_RESERVATION_END, values).fetchone()
        if released is not None and released[0]:
            connection.execute(_UNRESERVE, {**values, "amount": released[0]})
    return None  # settlements and audit rows are written together, above


def _settle(connection: sqlite3.Connection, settlements: list[dict[str, Any]]) -> None:
    """Every usage record of the batch, then its sums: one rollup update per day bucket, one
    release per reservation, one spend per tenant's month. The totals are those of settling
    one by one, in a few statements a batch instead of four a request."""
    connection.executemany(_RECORD, settlements)
    bills = [(row["bill_id"],) for row in settlements if row.get("bill_id")]
    if bills:  # the streams' write-ahead bills: settled, they go with the same commit
        connection.executemany(_DROP_BILL, bills)
    days: dict[tuple[Any, ...], list[int]] = {}
    releases: dict[str, int] = {}
    for row in settlements:
        bucket = (
            row["day_tenant"],
            row["day"],
            row["model"],
            row["tier"],
            row["key_id"],
            row["input_price"],
            row["output_price"],
        )
        sums = days.setdefault(bucket, [0, 0, 0, 0])
        sums[0] += 1
        sums[1] += row["prompt_tokens"]
        sums[2] += row["completion_tokens"]
        sums[3] += row["cost"]
        if row["release"]:
            reservation_id = row["reservation_id"]
            releases[reservation_id] = releases.get(reservation_id, 0) + row["release"]
    connection.executemany(_DAY_ADD, [(*bucket, *sums) for bucket, sums in days.items()])
    # A reservation swept meanwhile has already left the month's reserved amount: only the
    # spend moves.
    kept = {
        reservation_id
        for reservation_id, release in releases.items()
        if connection.execute(
            _RESERVATION_RELEASE, {"reservation_id": reservation_id, "release": release}
        ).rowcount
    }
    spend: dict[tuple[str, str], list[int]] = {}
    for row in settlements:
        if row["tenant_id"] is not None:
            sums = spend.setdefault((row["tenant_id"], row["month"]), [0, 0])
            sums[0] += row["cost"]
            sums[1] += row["release"] if row["reservation_id"] in kept else 0
    for (tenant_id, month), (cost, release) in spend.items():
        month_sums = {"tenant_id": tenant_id, "month": month, "cost": cost, "release": release}
        if connection.execute(_RELEASE_AND_SPEND, month_sums).rowcount != 1:
            connection.execute(_SPEND, month_sums)


def _grow_reservation(
    connection: sqlite3.Connection, values: dict[str, Any], months: set[tuple[str, str]]
) -> tuple[int, bool]:
    """Add `wanted` to the reservation if that fits, else `needed`, else nothing; (granted,
    whether the reservation existed). One that is gone is made anew only if `create`."""
    existed = connection.execute(_RESERVATION_EXISTS, values).fetchone() is not None
    if not (existed or values["create"]):
        return 0, False
    granted = 0
    for amount in dict.fromkeys((values["wanted"], values["needed"])):
        if amount and _grant(connection, {**values, "amount": amount}, months):
            granted = amount
            break
    if existed:
        connection.execute(_RESERVATION_GROW, {**values, "granted": granted})
    elif granted:
        connection.execute(_RESERVATION_NEW, {**values, "granted": granted})
    return granted, existed


def _grant(
    connection: sqlite3.Connection, values: dict[str, Any], months: set[tuple[str, str]]
) -> bool:
    month = (values["tenant_id"], values["month"])
    if month not in months:
        connection.execute(_MONTH_ROW, values)
    if connection.execute(_GRANT, values).rowcount != 1:
        if month not in months:
            return False  # the row exists (made above): the amount does not fit
        months.discard(month)  # gone, or made in a transaction that rolled back: try again
        return _grant(connection, values, months)
    months.add(month)
    return True


def _sqlite_values(params: dict[str, Any]) -> dict[str, Any]:
    # The same text forms SQLAlchemy's SQLite types write, so both read each other's rows.
    # (`type(...) is`, not isinstance: this runs on every value of every ledger write.)
    out = dict(params)
    for name, value in params.items():
        kind = type(value)
        if kind is dt.datetime:
            out[name] = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        elif kind is dt.date:
            out[name] = value.isoformat()
    return out
