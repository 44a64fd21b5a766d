"""Licence acceptances, gated-access requests and the operator's MAU grants.

Tenants accept licences and ask for access through the API; the operator approves, denies and
grants through the admin API or the CLI. Each change bumps the accounts revision.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from corral.accounts.admin import find_tenant
from corral.accounts.views import AccessRequestView
from corral.catalog.licences import Licence
from corral.clock import now
from corral.errors import Conflict, InvalidRequest, NotFound
from corral.storage import Database
from corral.storage.revision import bump_revision
from corral.storage.tables import AccessRequest, LicenceAcceptance, LicenceGrant, Tenant

DECISIONS = ("approved", "denied")


@dataclass(frozen=True, slots=True)
class AcceptanceView:
    licence_id: str
    licence_version: str
    text_sha256: str | None
    key_id: str
    accepted_at: dt.datetime


class AccessService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def accept_licence(self, tenant_id: str, licence: Licence, key_id: str) -> AcceptanceView:
        """Record acceptance of the licence's current version (accepting again is a no-op)."""
        with self._db.write() as session:
            existing = session.get(LicenceAcceptance, (tenant_id, licence.id, licence.version))
            if existing is None:
                existing = LicenceAcceptance(
                    tenant_id=tenant_id,
                    licence_id=licence.id,
                    licence_version=licence.version,
                    text_sha256=licence.text_sha256,
                    key_id=key_id,
                    accepted_at=now(),
                )
                session.add(existing)
                bump_revision(session)
            return AcceptanceView(
                existing.licence_id,
                existing.licence_version,
                existing.text_sha256,
                existing.key_id,
                existing.accepted_at,
            )

    def accepted_versions(self, tenant_id: str) -> dict[str, str]:
        with self._db.read() as session:
            rows = session.execute(
                select(LicenceAcceptance.licence_id, LicenceAcceptance.licence_version).where(
                    LicenceAcceptance.tenant_id == tenant_id
                )
            ).all()
        return {row[0]: row[1] for row in rows}

    def request_access(self, tenant_id: str, model: str, reason: str) -> AccessRequestView:
        """Open a request, or return the tenant's open or approved one for the same model."""
        if not reason.strip():
            raise InvalidRequest("Say why you need access in 'reason'.", param="reason")
        with self._db.write() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            current = session.scalar(
                select(AccessRequest).where(
                    AccessRequest.tenant_id == tenant_id,
                    AccessRequest.model == model,
                    AccessRequest.status.in_(("pending", "approved")),
                )
            )
            if current is not None:
                return AccessRequestView.of(current, tenant.name)
            row = AccessRequest(
                id="acc_" + secrets.token_hex(8),
                tenant_id=tenant_id,
                model=model,
                reason=reason,
                status="pending",
                decision_reason=None,
                created_at=now(),
                decided_at=None,
            )
            session.add(row)
            bump_revision(session)
            return AccessRequestView.of(row, tenant.name)

    def list_requests(
        self, *, tenant_id: str | None = None, status: str | None = None
    ) -> list[AccessRequestView]:
        query = select(AccessRequest, Tenant.name).join(Tenant).order_by(AccessRequest.created_at)
        if tenant_id is not None:
            query = query.where(AccessRequest.tenant_id == tenant_id)
        if status is not None:
            query = query.where(AccessRequest.status == status)
        with self._db.read() as session:
            return [AccessRequestView.of(row, name) for row, name in session.execute(query).all()]

    def decide(self, request_id: str, decision: str, reason: str | None) -> AccessRequestView:
        if decision not in DECISIONS:
            raise InvalidRequest(f"A decision is one of {', '.join(DECISIONS)}.", param="decision")
        with self._db.write() as session:
            row = session.get(AccessRequest, request_id)
            if row is None:
                raise NotFound(f"No access request with id '{request_id}'.", param="request_id")
            if row.status != "pending" and row.status != decision:
                raise Conflict(
                    f"Access request '{request_id}' was already {row.status}; the tenant can "
                    "ask again.",
                    param="request_id",
                )
            row.status, row.decision_reason, row.decided_at = decision, reason, now()
            bump_revision(session)
            tenant = session.get(Tenant, row.tenant_id)
            assert tenant is not None
            return AccessRequestView.of(row, tenant.name)

    def grant_licence(self, tenant_ref: str, licence: Licence, note: str | None) -> None:
        """Record that a tenant above the licence's MAU threshold holds a separate grant."""
        with self._db.write() as session:
            tenant = find_tenant(session, tenant_ref)
            dialect = postgresql if self._db.dialect == "postgresql" else sqlite
            session.execute(
                dialect.insert(LicenceGrant)
                .values(tenant_id=tenant.id, licence_id=licence.id, note=note, granted_at=now())
                .on_conflict_do_nothing()
            )
            bump_revision(session)
