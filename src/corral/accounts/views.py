"""What the admin API and the CLI show of accounts (never a key's secret or hash)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from corral.money import amount_or_none
from corral.settings import Policy
from corral.storage.tables import AccessRequest, ApiKey, Tenant

POLICIES: tuple[Policy, ...] = ("allow", "pseudonymize", "pseudonymize_strict", "local_only")


@dataclass(frozen=True, slots=True)
class TenantView:
    id: str
    name: str
    budget: str | None
    """Monthly budget in currency units ('12.500000'); None is unlimited."""
    mau: int | None
    policy: Policy
    retention_hours: int | None
    """How long partner calls' bodies are kept (opt-in); None keeps none."""
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Tenant) -> TenantView:
        budget = amount_or_none(row.budget_micros)
        return cls(
            row.id, row.name, budget, row.mau, row.policy, row.retention_hours, row.created_at
        )


@dataclass(frozen=True, slots=True)
class KeyView:
    id: str
    tenant: str
    name: str | None
    rpm: int | None
    tpm: int | None
    models: list[str] | None
    tiers: list[str] | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= dt.datetime.now(dt.UTC):
            return "expired"
        return "active"

    @classmethod
    def of(cls, row: ApiKey, tenant_name: str) -> KeyView:
        return cls(
            row.id,
            tenant_name,
            row.name,
            row.rpm,
            row.tpm,
            row.models,
            row.tiers,
            row.expires_at,
            row.revoked_at,
            row.created_at,
        )


@dataclass(frozen=True, slots=True)
class AccessRequestView:
    id: str
    tenant: str
    model: str
    reason: str
    status: str
    decision_reason: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None

    @classmethod
    def of(cls, row: AccessRequest, tenant_name: str) -> AccessRequestView:
        return cls(
            row.id,
            tenant_name,
            row.model,
            row.reason,
            row.status,
            row.decision_reason,
            row.created_at,
            row.decided_at,
        )
