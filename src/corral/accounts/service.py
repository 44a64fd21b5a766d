"""The account operations as a server process runs them: async, with the database work in the
database's threads (`Database.run`), and each change dropping this process's account caches,
so it applies here at once (other processes see the accounts revision move within a second,
see `directory`).

The blocking operations themselves are `AccountsAdmin`, `AccessService` and `PriceOverrides`,
which the CLI calls directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from corral.accounts.access import AcceptanceView, AccessService
from corral.accounts.admin import UNSET, AccountsAdmin, KeySpec, Unset
from corral.accounts.directory import AccountDirectory
from corral.accounts.prices import PriceOverride, PriceOverrides
from corral.accounts.views import AccessRequestView, KeyView, TenantView
from corral.catalog.licences import Licence
from corral.storage import Database

P = ParamSpec("P")
T = TypeVar("T")


class _Work:
    """Runs reads and writes in the database's threads; a write that succeeded empties the
    directory's caches (one that failed changed nothing)."""

    def __init__(self, db: Database, directory: AccountDirectory) -> None:
        self._db = db
        self._directory = directory

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._db.run(fn, *args, **kwargs)

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        result = await self._db.run(fn, *args, **kwargs)
        self._directory.invalidate()
        return result


class Accounts:
    """Tenants and their API keys."""

    def __init__(self, admin: AccountsAdmin, db: Database, directory: AccountDirectory) -> None:
        self.admin = admin
        """The blocking operations, for code outside the event loop (scripts, tests)."""
        self._work = _Work(db, directory)

    async def create_tenant(
        self,
        name: str,
        *,
        budget_micros: int | None = None,
        mau: int | None = None,
        policy: str | None = None,
        retention_hours: int | None = None,
    ) -> TenantView:
        return await self._work.write(
            self.admin.create_tenant,
            name,
            budget_micros=budget_micros,
            mau=mau,
            policy=policy,
            retention_hours=retention_hours,
        )

    async def list_tenants(self) -> list[TenantView]:
        return await self._work.read(self.admin.list_tenants)

    async def get_tenant(self, ref: str) -> TenantView:
        return await self._work.read(self.admin.get_tenant, ref)

    async def update_tenant(
        self,
        ref: str,
        *,
        budget_micros: int | Unset | None = UNSET,
        mau: int | Unset | None = UNSET,
        policy: str | Unset = UNSET,
        retention_hours: int | Unset | None = UNSET,
    ) -> TenantView:
        return await self._work.write(
            self.admin.update_tenant,
            ref,
            budget_micros=budget_micros,
            mau=mau,
            policy=policy,
            retention_hours=retention_hours,
        )

    async def create_key(self, tenant_ref: str, spec: KeySpec) -> tuple[KeyView, str]:
        """The key's view and its plaintext, shown this once."""
        return await self._work.write(self.admin.create_key, tenant_ref, spec)

    async def list_keys(self, tenant_ref: str | None = None) -> list[KeyView]:
        return await self._work.read(self.admin.list_keys, tenant_ref)

    async def revoke_key(self, key_id: str, *, tenant_id: str | None = None) -> KeyView:
        """With `tenant_id`, only one of that tenant's own keys (anything else is not found)."""
        return await self._work.write(self.admin.revoke_key, key_id, tenant_id=tenant_id)


class Access:
    """Gated models' access requests, licence acceptances and MAU licence grants."""

    def __init__(self, access: AccessService, db: Database, directory: AccountDirectory) -> None:
        self._access = access
        self._work = _Work(db, directory)

    async def accept_licence(self, tenant_id: str, licence: Licence, key_id: str) -> AcceptanceView:
        return await self._work.write(self._access.accept_licence, tenant_id, licence, key_id)

    async def accepted_versions(self, tenant_id: str) -> dict[str, str]:
        """Licence id -> the version the tenant accepted."""
        return await self._work.read(self._access.accepted_versions, tenant_id)

    async def request_access(self, tenant_id: str, model: str, reason: str) -> AccessRequestView:
        return await self._work.write(self._access.request_access, tenant_id, model, reason)

    async def list_requests(
        self, *, tenant_id: str | None = None, status: str | None = None
    ) -> list[AccessRequestView]:
        return await self._work.read(self._access.list_requests, tenant_id=tenant_id, status=status)

    async def decide(self, request_id: str, decision: str, reason: str | None) -> AccessRequestView:
        return await self._work.write(self._access.decide, request_id, decision, reason)

    async def grant_licence(self, tenant_ref: str, licence: Licence, note: str | None) -> None:
        await self._work.write(self._access.grant_licence, tenant_ref, licence, note)


class Prices:
    """The operator's price overrides (a model's price set at run time)."""

    def __init__(self, prices: PriceOverrides, db: Database, directory: AccountDirectory) -> None:
        self._prices = prices
        self._work = _Work(db, directory)

    async def set(self, model: str, input_micros: int, output_micros: int) -> PriceOverride:
        return await self._work.write(self._prices.set, model, input_micros, output_micros)

    async def clear(self, model: str) -> bool:
        """Whether there was an override to drop."""
        return await self._work.write(self._prices.clear, model)
