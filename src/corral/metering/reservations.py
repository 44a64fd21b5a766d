"""Budget holds in memory, against reservations of a tenant's monthly budget in the ledger.

Before a request runs, its maximum possible cost is held against its tenant's monthly budget,
so that concurrent requests, in this process or in any other replica, can never spend past it.
Holding each request in the database would cost every request a transaction (with PostgreSQL,
a round trip). Instead a process reserves part of the budget in the ledger (a reservation, so
the budget stays exact across replicas) and holds its requests against that reservation in
memory. The ledger is written when a reservation runs short (`grow`, ahead of time when it
can), when a request settles (its cost moves from the reservation to the month's spend, in the
settlement's own transaction) and when a reservation lies idle (given back).

A reservation is `min(HOLDS_PER_RESERVATION holds, budget / BUDGET_SHARE)`, and exactly what is
needed once the budget has less left than that: near the end of a budget every hold is a
ledger write again, so a process never refuses what still fits. Another replica may, by what
this one has reserved but not yet held (less than one request's hold near the end), until it is
given back `IDLE_S` after its last request. A process that dies leaves its reservations in the
ledger until they expire and are swept, as a hold of its own would. The words are defined in
docs/accounts.md ("Words").
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field

from corral.metering.leases import ProcessLease
from corral.metering.ledger import Ledger, ReservationChange

logger = logging.getLogger("corral.metering")

HOLDS_PER_RESERVATION = 64
"""A reservation has room for this many holds like the one that asked for it, at most..."""
BUDGET_SHARE = 64
"""...and at most this share of the tenant's budget."""
IDLE_S = 2.0
"""A reservation without a request in flight for this long is given back."""


@dataclass(slots=True)
class Reservation:
    """This process's reservation `id` of (tenant, month)'s budget, as held in memory."""

    tenant_id: str
    month: str
    id: str = field(default_factory=lambda: f"resv_{secrets.token_hex(12)}")
    amount: int = 0
    """Reserved in the ledger."""
    held: int = 0
    """The holds of the requests in flight."""
    size: int = 0
    """What the last grow wanted: the reservation is topped up in the background below a
    quarter."""
    last_used: float = field(default_factory=time.monotonic)
    renewed: float = field(default_factory=time.monotonic)
    growing: asyncio.Task[bool] | None = None
    made: bool = False
    """Whether it exists in the ledger (it is made by the first grow)."""
    gone: bool = False
    """Swept from the ledger while this process stalled: holds go to a new reservation."""

    @property
    def free(self) -> int:
        return self.amount - self.held


@dataclass(frozen=True, slots=True)
class Hold:
    """A request's maximum cost, held against one reservation until its settlement releases
    it."""

    reservation: Reservation
    amount: int

    @property
    def reservation_id(self) -> str:
        return self.reservation.id


class Reservations:
    """This process's reservations of tenants' budgets, one per (tenant, month), and the holds
    of its requests against them."""

    def __init__(
        self, ledger: Ledger, renew_after_s: float = 300.0, process: ProcessLease | None = None
    ) -> None:
        """`renew_after_s`: a reservation in use has its expiry pushed back this often (it must
        be well within the ledger's reservation timeout, after which a reservation is swept).
        `process`: the process's own lease, kept alive by `tidy` and ended with the
        reservations."""
        self._ledger = ledger
        self._renew_after_s = renew_after_s
        self._process = process
        self._reservations: dict[tuple[str, str], Reservation] = {}

    async def hold(self, tenant_id: str, month: str, amount: int, budget: int) -> Hold | None:
        """Hold `amount` of the tenant's `budget` for `month`; None if it does not fit."""
        key = (tenant_id, month)
        reservation = self._reservations.get(key)
        if reservation is None:
            reservation = self._reservations[key] = Reservation(tenant_id, month)
        while reservation.free < amount:
            if reservation.growing is None:
                needed = amount - max(reservation.free, 0)
                wanted = min(amount * HOLDS_PER_RESERVATION, budget // BUDGET_SHARE)
                reservation.size = max(needed, wanted)
                self._start_grow(reservation, needed, reservation.size)
            grown = reservation.growing
            assert grown is not None
            # The grow goes on for the reservation if this request is cancelled meanwhile.
            fits = await asyncio.shield(grown)
            if reservation.gone:
                return await self.hold(tenant_id, month, amount, budget)
            if not fits and reservation.free < amount:
                return None
        reservation.held += amount
        reservation.last_used = time.monotonic()
        if reservation.growing is None and reservation.free * 4 < reservation.size:
            # Topped up before it runs out, so that requests seldom wait for the ledger.
            self._start_grow(reservation, 0, reservation.size)
        return Hold(reservation, amount)

    def release(self, hold: Hold, moved: int) -> None:
        """The request behind `hold` has ended, and its settlement moved `moved` (at most
        the hold) from the reservation to the month's spend."""
        reservation = hold.reservation
        reservation.held -= hold.amount
        reservation.amount -= moved
        reservation.last_used = time.monotonic()

    async def tidy(self) -> None:
        """Give back the reservations idle for `IDLE_S`; renew the others' expiry (and the
        process lease's) when it is due."""
        if self._process is not None:
            await self._process.keep()
        now = time.monotonic()
        for key, reservation in list(self._reservations.items()):
            if reservation.growing is not None:
                continue
            if reservation.held == 0 and now - reservation.last_used >= IDLE_S:
                del self._reservations[key]  # a hold from now on starts a new reservation
                await self._ledger.end_reservation(
                    reservation.id, reservation.tenant_id, reservation.month
                )
            elif now - reservation.renewed >= self._renew_after_s:
                self._start_grow(reservation, 0, 0)

    async def give_back_all(self) -> None:
        """At shutdown, with no request left in flight: every reservation goes back to its
        budget."""
        reservations, self._reservations = list(self._reservations.values()), {}
        for reservation in reservations:
            if reservation.growing is not None:
                await asyncio.shield(reservation.growing)
            await self._ledger.end_reservation(
                reservation.id, reservation.tenant_id, reservation.month
            )
        if self._process is not None:
            await self._process.end()

    def _start_grow(self, reservation: Reservation, needed: int, wanted: int) -> None:
        task = asyncio.get_running_loop().create_task(self._grow(reservation, needed, wanted))
        task.add_done_callback(_log_failure)
        reservation.growing = task

    async def _grow(self, reservation: Reservation, needed: int, wanted: int) -> bool:
        """Add `wanted` to the reservation, else `needed`; False if not even that fits. Either
        way its expiry is pushed back."""
        try:
            change: ReservationChange = await self._ledger.grow_reservation(
                reservation.id,
                reservation.tenant_id,
                reservation.month,
                needed,
                wanted,
                create=not reservation.made,
            )
        finally:
            reservation.growing = None
        if reservation.made and not change.existed:
            # Swept while this process stalled past its expiry: its holds are no longer in the
            # ledger (their settlements find it gone and only add to the spend).
            reservation.gone = True
            key = (reservation.tenant_id, reservation.month)
            if self._reservations.get(key) is reservation:
                del self._reservations[key]
            return False
        reservation.made = reservation.made or change.granted > 0
        reservation.amount += change.granted
        reservation.renewed = time.monotonic()
        return change.granted >= needed


def _log_failure(task: asyncio.Task[bool]) -> None:
    """A grow nobody waited for (a top-up, a renewal) fails in the log; the next one retries."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a budget reservation could not be grown", exc_info=task.exception())
