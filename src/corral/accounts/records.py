"""What the request path knows about a caller: immutable snapshots read from the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from corral.settings import Policy


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    tenant_id: str
    secret_hash: str
    rpm: int | None
    tpm: int | None
    models: tuple[str, ...] | None
    """fnmatch patterns of the models this key may use; None is every model."""
    tiers: tuple[str, ...] | None
    expires_at: dt.datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class TenantState:
    id: str
    name: str
    budget_micros: int | None
    mau: int | None
    policy: Policy
    retention_hours: int | None
    accepted_licences: frozenset[tuple[str, str]]
    """(licence id, version) pairs the tenant has accepted."""
    licence_grants: frozenset[str]
    approved_models: frozenset[str]
