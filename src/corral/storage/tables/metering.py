"""The ledger: usage records, daily rollups, budgets and their reservations, idempotency
records, process leases and streams' write-ahead bills."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from corral.storage.tables.base import Base, UTCDateTime


class UsageRecord(Base):
    """The ledger: one row per request that produced tokens."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_tenant_started", "tenant_id", "started_at"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    """None for the operator's own (admin key) requests."""
    key_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(16))
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    input_price_micros: Mapped[int] = mapped_column(BigInteger)
    """The unit prices the request was billed at (micro-units per million tokens)."""
    output_price_micros: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Of `prompt_tokens`, those served from the prefix cache, billed at the cached price."""
    cached_price_micros: Mapped[int | None] = mapped_column(BigInteger)
    """None: cached tokens were billed at the input price (the model had no cached price)."""
    cost_micros: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    """completed | cancelled | failed"""
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UsageDaily(Base):
    """Ledger totals per tenant, day, model, key and unit prices, kept in the ledger's own
    transaction: usage reports and invoices read these, never the raw ledger."""

    __tablename__ = "usage_daily"
    tenant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """'' for the operator's own requests (a key column cannot be NULL)."""
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    input_price_micros: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    output_price_micros: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_micros: Mapped[int] = mapped_column(BigInteger)


class BudgetMonth(Base):
    """A tenant's spend in one calendar month, and the sum of its budget reservations."""

    __tablename__ = "budget_months"
    tenant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetReservation(Base):
    """Part of a tenant's monthly budget set aside by one process, which holds its requests
    against it in memory (`metering.reservations`); counted in the month's `reserved_micros`."""

    __tablename__ = "budget_reservations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    month: Mapped[str] = mapped_column(String(7))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    owner: Mapped[str] = mapped_column(String(32), primary_key=True)
    """The tenant id, or 'admin'."""
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    """running | done | unstored (an answer over the size limits: not kept)"""
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    lease_id: Mapped[str | None] = mapped_column(String(40))
    """The process lease of the request running under a claim (see `metering.leases`)."""


class ProcessLease(Base):
    """A live process's lease, renewed every few seconds; what the process claims (a running
    idempotency key) is free for others once it has expired."""

    __tablename__ = "process_leases"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class PendingCharge(Base):
    """A stream's write-ahead bill, written before its first byte: deleted once the stream is
    settled in the ledger, else (its process died, or the settlement's write failed) charged
    later for the tokens it last recorded (`metering.pending`)."""

    __tablename__ = "pending_charges"
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(16))
    input_price_micros: Mapped[int] = mapped_column(BigInteger)
    output_price_micros: Mapped[int] = mapped_column(BigInteger)
    cached_price_micros: Mapped[int | None] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    """As last recorded: streamed tokens are written every second or so."""
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    process_id: Mapped[str] = mapped_column(String(40))
    """The `process_leases` row of the process serving the stream."""
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
