"""The privacy guard's audit log of partner calls."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from corral.settings import Policy
from corral.storage.tables.base import Base, UTCDateTime


class AuditEvent(Base):
    """One call to a partner model: who, where, and which kinds of personal data were masked
    (counts only, never values). Append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_at", "tenant_id", "at"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(32))
    policy: Mapped[Policy] = mapped_column(String(32))
    pii: Mapped[dict[str, int]] = mapped_column(JSON)


class AuditBody(Base):
    """What a partner call sent and received, kept only for tenants who opted in, until expiry."""

    __tablename__ = "audit_bodies"
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), primary_key=True)
    sent: Mapped[str] = mapped_column(Text)
    received: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
