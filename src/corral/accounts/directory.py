"""The request path's view of accounts: cached in memory, dropped when anything changes.

Every change to accounts (by the admin API or the CLI, in any process) bumps one revision
number in the database in the same transaction. Each server polls that number a few times a
second and empties its caches when it moves, so a revoked key stops working within a second
while a request with a known key costs no database round trip.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from corral.accounts.records import KeyRecord, TenantState
from corral.storage import Database
from corral.storage.tables import (
    AccessRequest,
    ApiKey,
    LicenceAcceptance,
    LicenceGrant,
    ModelPrice,
    Revision,
    Tenant,
)

logger = logging.getLogger("corral.accounts")

_MAX_CACHED_KEYS = 100_000
_REVISION_SQL = str(
    select(Revision.revision)
    .where(Revision.id == 1)
    .compile(compile_kwargs={"literal_binds": True})
)
"""Polled five times a second: plain SQL, compiled once, the same on SQLite and PostgreSQL."""
OverridePrices = dict[str, tuple[int, int]]
"""Model id -> the operator's (input, output) price override (`accounts.prices`)."""


class AccountDirectory:
    def __init__(self, db: Database, poll_interval_s: float = 0.2) -> None:
        self._db = db
        self._poll_interval_s = poll_interval_s
        self._revision: int | None = None
        self._keys: dict[str, KeyRecord | None] = {}
        self._tenants: dict[str, TenantState | None] = {}
        self._prices: OverridePrices | None = None
        self._generation = 0
        """Bumped by `invalidate`: a read begun before it must not refill the cache after it."""

    async def key(self, prefix: str) -> KeyRecord | None:
        try:
            return self._keys[prefix]
        except KeyError:
            pass
        generation = self._generation
        record = await self._db.run(self._load_key, prefix)
        if generation == self._generation:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                self._keys.clear()  # bounds memory when someone sprays made-up keys
            self._keys[prefix] = record
        return record

    async def tenant(self, tenant_id: str) -> TenantState | None:
        try:
            return self._tenants[tenant_id]
        except KeyError:
            pass
        generation = self._generation
        state = await self._db.run(self._load_tenant, tenant_id)
        if generation == self._generation:
            self._tenants[tenant_id] = state
        return state

    async def price_overrides(self) -> OverridePrices:
        if self._prices is not None:
            return self._prices
        generation = self._generation
        prices = await self._db.run(self._load_prices)
        if generation == self._generation:
            self._prices = prices
        return prices

    def invalidate(self) -> None:
        self._generation += 1
        self._keys.clear()
        self._tenants.clear()
        self._prices = None

    async def refresh(self) -> None:
        """Drop the caches if the accounts revision moved since the last look."""
        revision = await self._db.run(self._load_revision)
        if revision != self._revision:
            self.invalidate()
            self._revision = revision

    async def watch(self) -> None:
        """Poll the revision until cancelled; a failed poll keeps the caches and tries again."""
        while True:
            try:
                await self.refresh()
            except Exception:
                logger.exception("could not read the accounts revision")
            await asyncio.sleep(self._poll_interval_s)

    # -- loading (in the database's worker threads) --------------------------------------------

    def _load_revision(self) -> int:
        revision = self._db.scalar(_REVISION_SQL)
        return int(revision or 0)

    def _load_key(self, prefix: str) -> KeyRecord | None:
        with self._db.read() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if row is None:
            return None
        return KeyRecord(
            id=row.id,
            tenant_id=row.tenant_id,
            secret_hash=row.secret_hash,
            rpm=row.rpm,
            tpm=row.tpm,
            models=tuple(row.models) if row.models is not None else None,
            tiers=tuple(row.tiers) if row.tiers is not None else None,
            expires_at=row.expires_at,
            revoked=row.revoked_at is not None,
        )

    def _load_tenant(self, tenant_id: str) -> TenantState | None:
        with self._db.read() as session:
            tenant = session.get(Tenant, tenant_id)
            if tenant is None:
                return None
            accepted = session.execute(
                select(LicenceAcceptance.licence_id, LicenceAcceptance.licence_version).where(
                    LicenceAcceptance.tenant_id == tenant_id
                )
            ).all()
            grants = session.scalars(
                select(LicenceGrant.licence_id).where(LicenceGrant.tenant_id == tenant_id)
            ).all()
            approved = session.scalars(
                select(AccessRequest.model).where(
                    AccessRequest.tenant_id == tenant_id, AccessRequest.status == "approved"
                )
            ).all()
        return TenantState(
            id=tenant.id,
            name=tenant.name,
            budget_micros=tenant.budget_micros,
            mau=tenant.mau,
            policy=tenant.policy,
            retention_hours=tenant.retention_hours,
            accepted_licences=frozenset((row[0], row[1]) for row in accepted),
            licence_grants=frozenset(grants),
            approved_models=frozenset(approved),
        )

    def _load_prices(self) -> OverridePrices:
        with self._db.read() as session:
            rows = session.scalars(select(ModelPrice)).all()
        return {row.model: (row.input_micros, row.output_micros) for row in rows}
