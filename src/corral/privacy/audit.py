"""The privacy audit log: an append-only record of every call to a partner model.

Each event says when, for whom (tenant, key), to which model and provider, under which data
policy, and how many values of each kind of personal data were replaced before the prompt
left the machine. Never the values themselves. Tenants who opt in (`retention_hours`) also
keep what was sent and received, until it expires and is purged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from corral.settings import Policy
from corral.storage import Database
from corral.storage.tables import AuditBody, AuditEvent, Tenant


@dataclass(frozen=True, slots=True)
class PartnerCall:
    request_id: str
    tenant_id: str | None
    key_id: str
    model: str
    backend: str
    policy: Policy
    pii: dict[str, int]
    sent: str = ""
    received: str = ""


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: dt.datetime
    request_id: str
    tenant: str | None
    key_id: str
    model: str
    backend: str
    policy: Policy
    pii: dict[str, int]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, call: PartnerCall, retention_hours: int | None) -> None:
        now = dt.datetime.now(dt.UTC)
        with self._db.write() as session:
            event_id = session.execute(
                insert(AuditEvent)
                .values(
                    at=now,
                    request_id=call.request_id,
                    tenant_id=call.tenant_id,
                    key_id=call.key_id,
                    model=call.model,
                    backend=call.backend,
                    policy=call.policy,
                    pii=call.pii,
                )
                .returning(AuditEvent.id)
            ).scalar_one()
            if retention_hours:
                session.add(
                    AuditBody(
                        event_id=event_id,
                        sent=call.sent,
                        received=call.received,
                        expires_at=now + dt.timedelta(hours=retention_hours),
                    )
                )

    def events(
        self, *, tenant_id: str | None = None, since: dt.datetime | None = None, limit: int = 100
    ) -> list[AuditView]:
        query = (
            select(AuditEvent, Tenant.name)
            .outerjoin(Tenant, Tenant.id == AuditEvent.tenant_id)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        if tenant_id is not None:
            query = query.where(AuditEvent.tenant_id == tenant_id)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        with self._db.read() as session:
            rows = session.execute(query).all()
        return [
            AuditView(e.id, e.at, e.request_id, name, e.key_id, e.model, e.backend, e.policy, e.pii)
            for e, name in rows
        ]

    async def recent(self, *, tenant_id: str | None = None, limit: int = 100) -> list[AuditView]:
        """The latest `limit` events (of one tenant, or everyone's), read in a database thread."""
        return await self._db.run(lambda: self.events(tenant_id=tenant_id, limit=limit))

    async def bodies(
        self, event_ids: list[int], *, tenant_id: str | None = None
    ) -> dict[int, tuple[str, str]]:
        """What was sent and received for these events, where retention still keeps it (not
        yet expired); only `tenant_id`'s events when given."""
        if not event_ids:
            return {}
        query = (
            select(AuditBody.event_id, AuditBody.sent, AuditBody.received)
            .join(AuditEvent, AuditEvent.id == AuditBody.event_id)
            .where(AuditBody.event_id.in_(event_ids))
            .where(AuditBody.expires_at >= dt.datetime.now(dt.UTC))
        )
        if tenant_id is not None:
            query = query.where(AuditEvent.tenant_id == tenant_id)

        def read() -> dict[int, tuple[str, str]]:
            with self._db.read() as session:
                return {row[0]: (row[1], row[2]) for row in session.execute(query)}

        return await self._db.run(read)

    async def for_requests(self, request_ids: list[str], tenant_id: str) -> list[AuditView]:
        """The partner calls these requests of `tenant_id` made (a chat turn: usually one)."""
        if not request_ids:
            return []
        query = (
            select(AuditEvent)
            .where(AuditEvent.request_id.in_(request_ids), AuditEvent.tenant_id == tenant_id)
            .order_by(AuditEvent.id)
        )

        def read() -> list[AuditView]:
            with self._db.read() as session:
                rows = session.scalars(query).all()
            return [
                AuditView(e.id, e.at, e.request_id, None, e.key_id, e.model, e.backend, e.policy,
                          e.pii)
                for e in rows
            ]  # fmt: skip

        return await self._db.run(read)

    def purge_expired(self) -> int:
        with self._db.write() as session:
            gone = session.execute(
                delete(AuditBody).where(AuditBody.expires_at < dt.datetime.now(dt.UTC))
            )
            return int(gone.rowcount)  # type: ignore[attr-defined]
