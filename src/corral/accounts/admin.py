"""The operator's account operations: tenants and keys. Used by the admin API and the CLI.

Every change bumps the accounts revision in its own transaction, which is how running
servers learn to drop their caches (see `directory`).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corral.accounts.bounds import AccountLimits
from corral.accounts.keys import KeyHasher
from corral.accounts.views import POLICIES, KeyView, TenantView
from corral.clock import now
from corral.errors import Conflict, InvalidRequest, NotFound
from corral.settings import TENANT_NAME_PATTERN, Policy
from corral.storage import Database
from corral.storage.revision import bump_revision
from corral.storage.tables import ApiKey, Tenant

TIERS = ("open", "premium", "partner", "private")
TENANT_ID_PREFIX = "ten_"


class Unset:
    """The type of `UNSET`: a field the caller left as it was (None clears it)."""


UNSET = Unset()


def find_tenant(session: Session, ref: str) -> Tenant:
    """A tenant by id or name (an id wins); NotFound naming what was asked for."""
    tenant = session.get(Tenant, ref) or session.scalar(select(Tenant).where(Tenant.name == ref))
    if tenant is None:
        raise NotFound(f"No tenant named '{ref}'.", param="tenant", code="tenant_not_found")
    return tenant


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    models: list[str] | None = None
    tiers: list[str] | None = None
    expires_at: dt.datetime | None = None


class AccountsAdmin:
    def __init__(
        self,
        db: Database,
        hasher: KeyHasher,
        default_policy: Policy = "pseudonymize",
        limits: AccountLimits | None = None,
    ) -> None:
        self._db = db
        self._hasher = hasher
        self._default_policy = default_policy
        self._limits = limits or AccountLimits()

    # -- tenants -------------------------------------------------------------------------------

    def create_tenant(
        self,
        name: str,
        *,
        budget_micros: int | None = None,
        mau: int | None = None,
        policy: str | None = None,
        retention_hours: int | None = None,
    ) -> TenantView:
        checked = _check_policy(policy) if policy else self._default_policy
        budget_micros = self._limits.budget(budget_micros)
        mau = self._limits.mau(mau)
        _check_name(name)
        stamp = now()
        tenant = Tenant(
            id=TENANT_ID_PREFIX + secrets.token_hex(8),
            name=name,
            budget_micros=budget_micros,
            mau=mau,
            policy=checked,
            retention_hours=retention_hours,
            created_at=stamp,
            updated_at=stamp,
        )
        try:
            with self._db.write() as session:
                session.add(tenant)
                session.flush()
                bump_revision(session)
        except IntegrityError:
            raise Conflict(f"A tenant named '{name}' already exists.", param="name") from None
        return TenantView.of(tenant)

    def list_tenants(self) -> list[TenantView]:
        with self._db.read() as session:
            return [TenantView.of(t) for t in session.scalars(select(Tenant).order_by(Tenant.name))]

    def get_tenant(self, ref: str) -> TenantView:
        with self._db.read() as session:
            return TenantView.of(find_tenant(session, ref))

    def update_tenant(
        self,
        ref: str,
        *,
        budget_micros: int | Unset | None = UNSET,
        mau: int | Unset | None = UNSET,
        policy: str | Unset = UNSET,
        retention_hours: int | Unset | None = UNSET,
    ) -> TenantView:
        with self._db.write() as session:
            tenant = find_tenant(session, ref)
            if not isinstance(budget_micros, Unset):
                tenant.budget_micros = self._limits.budget(budget_micros)
            if not isinstance(mau, Unset):
                tenant.mau = self._limits.mau(mau)
            if not isinstance(policy, Unset):
                tenant.policy = _check_policy(policy)
            if not isinstance(retention_hours, Unset):
                tenant.retention_hours = retention_hours
            tenant.updated_at = now()
            bump_revision(session)
            return TenantView.of(tenant)

    # -- keys ----------------------------------------------------------------------------------

    def create_key(self, tenant_ref: str, spec: KeySpec) -> tuple[KeyView, str]:
        """Make a key; the plaintext is returned here once and never stored."""
        for tier in spec.tiers or []:
            if tier not in TIERS:
                raise InvalidRequest(
                    f"Unknown tier '{tier}'; tiers are {', '.join(TIERS)}.", param="tiers"
                )
        self._limits.rpm(spec.rpm)
        self._limits.tpm(spec.tpm)
        new = self._hasher.new_key()
        with self._db.write() as session:
            tenant = find_tenant(session, tenant_ref)
            row = ApiKey(
                id=new.id,
                tenant_id=tenant.id,
                prefix=new.prefix,
                secret_hash=new.secret_hash,
                name=spec.name,
                rpm=spec.rpm,
                tpm=spec.tpm,
                models=spec.models,
                tiers=spec.tiers,
                expires_at=spec.expires_at,
                revoked_at=None,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            bump_revision(session)
            return KeyView.of(row, tenant.name), new.plaintext

    def list_keys(self, tenant_ref: str | None = None) -> list[KeyView]:
        with self._db.read() as session:
            query = select(ApiKey, Tenant.name).join(Tenant).order_by(ApiKey.created_at)
            if tenant_ref is not None:
                query = query.where(ApiKey.tenant_id == find_tenant(session, tenant_ref).id)
            return [KeyView.of(key, name) for key, name in session.execute(query).all()]

    def revoke_key(self, key_id: str, *, tenant_id: str | None = None) -> KeyView:
        """Revoke a key; with `tenant_id`, only one of that tenant's own keys."""
        with self._db.write() as session:
            row = session.get(ApiKey, key_id)
            if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
                raise NotFound(f"No API key with id '{key_id}'.", param="key_id")
            if row.revoked_at is None:
                row.revoked_at = now()
                bump_revision(session)
            tenant = session.get(Tenant, row.tenant_id)
            assert tenant is not None
            return KeyView.of(row, tenant.name)


def _check_name(name: str) -> None:
    if not re.fullmatch(TENANT_NAME_PATTERN, name):
        raise InvalidRequest(
            f"'{name}' is not a tenant name: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            param="name",
        )
    # Tenants are looked up by id or name: a name like an id could pass for another tenant.
    if name.lower().startswith(TENANT_ID_PREFIX):
        raise InvalidRequest(
            f"'{name}' looks like a tenant id: a name must not start with '{TENANT_ID_PREFIX}'.",
            param="name",
        )


def _check_policy(policy: str) -> Policy:
    """`policy`, as given by an operator (a CLI option, a request), if it is one."""
    for known in POLICIES:
        if policy == known:
            return known
    raise InvalidRequest(
        f"Unknown data policy '{policy}'; choose one of {', '.join(POLICIES)}.",
        param="policy",
    )
