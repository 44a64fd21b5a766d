"""`ProcessLease`: the process's own lease, seconds long and renewed from the same loop that
tidies the budget reservations (`reservations`). What a process claims beyond one transaction
(an idempotency key's run) names its lease, and is free once the lease has expired.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

from sqlalchemy import delete, update

from corral.storage import Database
from corral.storage.tables import ProcessLease as ProcessLeaseRow


class ProcessLease:
    """This process's lease on what it claims for longer than a request's transaction (a
    running idempotency key): a row renewed every `ttl_s / 3` (from the same loop that renews
    the budget reservations), expiring `ttl_s` after the last renewal. A process killed without a
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
