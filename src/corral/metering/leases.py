"""Budget holds in memory, against slices of a tenant's monthly budget leased from the ledger.

Before a request runs, its maximum possible cost is held against its tenant's monthly budget,
so that concurrent requests, in this process or in any other replica, can never spend past it.
Holding each request in the database would cost every request a transaction (with PostgreSQL,
a round trip). Instead a process leases a slice of the budget, a reservation in the ledger like
any other, so the budget stays exact across replicas, and holds its requests against the slice
in memory. The ledger is written when a slice runs short (`grow`, ahead of time when it can),
when a request settles (its cost moves from the slice to the month's spend, in the settlement's
own transaction) and when a slice lies idle (given back).

A slice is `min(LEASE_REQUESTS holds, budget / BUDGET_SHARE)`, and exactly what is needed
once the budget has less left than that: near the end of a budget every hold is a ledger write
again, so a process never refuses what still fits. Another replica may, by what this one has
leased but not yet held (less than one request's hold near the end), until it is given back
`IDLE_S` after its last request. A process that dies leaves its slices in the ledger until they
expire and are swept, as a hold of its own would.

`ProcessLease` is the process's own lease, seconds long and renewed from the same loop: what
it claims beyond one transaction (an idempotency key's run) names it, and is free once it
has expired.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, update

from corral.metering.ledger import LeaseChange, Ledger
from corral.storage import Database
from corral.storage.tables import ProcessLease as ProcessLeaseRow

logger = logging.getLogger("corral.metering")

LEASE_REQUESTS = 64
"""A slice holds this many requests like the one that asked for it, at most..."""
BUDGET_SHARE = 64
"""...and at most this share of the tenant's budget."""
IDLE_S = 2.0
"""A slice without a request in flight for this long is given back."""


@dataclass(slots=True)
class _Lease:
    """One slice: this process's reservation `id` against (tenant, month)."""

    tenant_id: str
    month: str
    id: str = field(default_factory=lambda: f"lease_{secrets.token_hex(12)}")
    amount: int = 0
    """Reserved in the ledger for this slice."""
    held: int = 0
    """The holds of the requests in flight."""
    size: int = 0
    """What the last grow wanted: the slice is topped up in the background below a quarter."""
    last_used: float = field(default_factory=time.monotonic)
    renewed: float = field(default_factory=time.monotonic)
    growing: asyncio.Task[bool] | None = None
    made: bool = False
    """Whether its reservation exists in the ledger (it is made by the first grow)."""
    gone: bool = False
    """Swept from the ledger while this process stalled: holds go to a new slice."""

    @property
    def free(self) -> int:
        return self.amount - self.held


@dataclass(frozen=True, slots=True)
class Hold:
    """A request's maximum cost, held against one slice until its settlement releases it."""

    lease: _Lease
    amount: int

    @property
    def lease_id(self) -> str:
        return self.lease.id


class BudgetLeases:
    def __init__(
        self, ledger: Ledger, renew_after_s: float = 300.0, process: ProcessLease | None = None
    ) -> None:
        """`renew_after_s`: a slice in use has its expiry pushed back this often (it must be
        well within the ledger's reservation timeout, after which a slice is swept).
        `process`: the process's own lease, kept alive by `tidy` and ended with the slices."""
        self._ledger = ledger
        self._renew_after_s = renew_after_s
        self._process = process
        self._leases: dict[tuple[str, str], _Lease] = {}

    async def hold(self, tenant_id: str, month: str, amount: int, budget: int) -> Hold | None:
        """Hold `amount` of the tenant's `budget` for `month`; None if it does not fit."""
        lease = self._leases.get((tenant_id, month))
        if lease is None:
            lease = self._leases[(tenant_id, month)] = _Lease(tenant_id, month)
        while lease.free < amount:
            if lease.growing is None:
                needed = amount - max(lease.free, 0)
                lease.size = max(needed, min(amount * LEASE_REQUESTS, budget // BUDGET_SHARE))
                self._start_grow(lease, needed, lease.size)
            grown = lease.growing
            assert grown is not None
            # The grow goes on for the slice if this request is cancelled meanwhile.
            fits = await asyncio.shield(grown)
            if lease.gone:
                return await self.hold(tenant_id, month, amount, budget)
            if not fits and lease.free < amount:
                return None
        lease.held += amount
        lease.last_used = time.monotonic()
        if lease.growing is None and lease.free * 4 < lease.size:
            # Topped up before it runs out, so that requests seldom wait for the ledger.
            self._start_grow(lease, 0, lease.size)
        return Hold(lease, amount)

    def release(self, hold: Hold, moved: int) -> None:
        """The request behind `hold` has ended, and its settlement moved `moved` (at most
        the hold) from the slice to the month's spend."""
        lease = hold.lease
        lease.held -= hold.amount
        lease.amount -= moved
        lease.last_used = time.monotonic()

    async def tidy(self) -> None:
        """Give back the slices idle for `IDLE_S`; renew the others' expiry (and the process
        lease's) when it is due."""
        if self._process is not None:
            await self._process.keep()
        now = time.monotonic()
        for key, lease in list(self._leases.items()):
            if lease.growing is not None:
                continue
            if lease.held == 0 and now - lease.last_used >= IDLE_S:
                del self._leases[key]  # a hold from now on starts a new slice
                await self._ledger.end_lease(lease.id, lease.tenant_id, lease.month)
            elif now - lease.renewed >= self._renew_after_s:
                self._start_grow(lease, 0, 0)

    async def give_back_all(self) -> None:
        """At shutdown, with no request left in flight: every slice goes back to its budget."""
        leases, self._leases = list(self._leases.values()), {}
        for lease in leases:
            if lease.growing is not None:
                await asyncio.shield(lease.growing)
            await self._ledger.end_lease(lease.id, lease.tenant_id, lease.month)
        if self._process is not None:
            await self._process.end()

    def _start_grow(self, lease: _Lease, needed: int, wanted: int) -> None:
        task = asyncio.get_running_loop().create_task(self._grow(lease, needed, wanted))
        task.add_done_callback(_log_failure)
        lease.growing = task

    async def _grow(self, lease: _Lease, needed: int, wanted: int) -> bool:
        """Add `wanted` to the slice, else `needed`; False if not even that fits. Either way
        its expiry is pushed back."""
        try:
            change: LeaseChange = await self._ledger.grow_lease(
                lease.id, lease.tenant_id, lease.month, needed, wanted, create=not lease.made
            )
        finally:
            lease.growing = None
        if lease.made and not change.existed:
            # Swept while this process stalled past its expiry: its holds are no longer in the
            # ledger (their settlements find it gone and only add to the spend).
            lease.gone = True
            if self._leases.get((lease.tenant_id, lease.month)) is lease:
                del self._leases[(lease.tenant_id, lease.month)]
            return False
        lease.made = lease.made or change.granted > 0
        lease.amount += change.granted
        lease.renewed = time.monotonic()
        return change.granted >= needed


def _log_failure(task: asyncio.Task[bool]) -> None:
    """A grow nobody waited for (a top-up, a renewal) fails in the log; the next one retries."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a budget slice could not be grown", exc_info=task.exception())


class ProcessLease:
    """This process's lease on what it claims for longer than a request's transaction (a
    running idempotency key): a row renewed every `ttl_s / 3` (from the same loop that renews
    the budget slices), expiring `ttl_s` after the last renewal. A process killed without a
    shutdown renews it no more, so its claims are free for others within `ttl_s`, not after
    a whole claim timeout."""

    def __init__(self, db: Database, ttl_s: float = 15.0) -> None:
        self.id = f"proc_{secrets.token_hex(12)}"
        self._db = db
        self._ttl = dt.timedelta(seconds=ttl_s)
        self._renewed: float | None = None

    @property
    def renewed(self) -> bool:
        """Whether the lease exists (it is made by the first renewal)."""
        return self._renewed is not None

    def renew(self) -> None:
        """Push the expiry back (made on first use); blocking, in a database thread."""
        expires_at = dt.datetime.now(dt.UTC) + self._ttl
        with self._db.write() as session:
            updated = session.execute(
                update(ProcessLeaseRow)
                .where(ProcessLeaseRow.id == self.id)
                .values(expires_at=expires_at)
            )
            if not updated.rowcount:  # type: ignore[attr-defined]
                session.add(ProcessLeaseRow(id=self.id, expires_at=expires_at))
        self._renewed = time.monotonic()

    async def keep(self) -> None:
        """Renew the lease when a third of its time has passed (call it often)."""
        due = self._renewed is None
        due = due or time.monotonic() - (self._renewed or 0) >= self._ttl.total_seconds() / 3
        if due:
            await self._db.run(self.renew)

    async def end(self) -> None:
        """At shutdown: this process's claims are free at once."""
        await self._db.run(self._delete)

    def _delete(self) -> None:
        with self._db.write() as session:
            session.execute(delete(ProcessLeaseRow).where(ProcessLeaseRow.id == self.id))

    @staticmethod
    def sweep_expired(db: Database) -> None:
        with db.write() as session:
            session.execute(
                delete(ProcessLeaseRow).where(ProcessLeaseRow.expires_at < dt.datetime.now(dt.UTC))
            )
