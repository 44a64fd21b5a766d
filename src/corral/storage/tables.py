"""The schema, as SQLAlchemy tables. Changing it means adding an Alembic migration.

Money is integer micro-units of the configured currency; times are UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from corral.settings import Policy


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (no zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Revision(Base):
    """One row counting changes to accounts; servers poll it to drop their caches within 1 s."""

    __tablename__ = "accounts_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    budget_micros: Mapped[int | None] = mapped_column(BigInteger)
    """Hard monthly budget; None is unlimited."""
    mau: Mapped[int | None] = mapped_column(BigInteger)
    policy: Mapped[Policy] = mapped_column(String(32), default="pseudonymize")
    retention_hours: Mapped[int | None] = mapped_column(Integer)
    """Keep what partner calls sent and received this long (opt-in); None keeps nothing."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """`key_` + the key's non-secret prefix: safe to log and show."""
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100))
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(BigInteger)
    models: Mapped[list[str] | None] = mapped_column(JSON)
    tiers: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LicenceAcceptance(Base):
    __tablename__ = "licence_acceptances"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    licence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    licence_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LicenceGrant(Base):
    """The operator's record that a tenant above a licence's MAU threshold has its own grant."""

    __tablename__ = "licence_grants"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    licence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    note: Mapped[str | None] = mapped_column(Text)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AccessRequest(Base):
    __tablename__ = "access_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    model: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """pending | approved | denied"""
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ModelPrice(Base):
    """The operator's price override for a model, replacing the config file's."""

    __tablename__ = "model_prices"
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    input_micros: Mapped[int] = mapped_column(BigInteger)
    output_micros: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


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


class StoredResponse(Base):
    """A response made with `store: true`: what it answered and what it was asked, so a later
    request can continue it (`previous_response_id`) and its owner can read or delete it."""

    __tablename__ = "stored_responses"
    __table_args__ = (Index("ix_stored_responses_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    previous_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class StoredFile(Base):
    """An uploaded file (Files API): its bytes live under `CORRAL_HOME/files` (see
    `files.blobs`); the row is written only once they are whole, so a listed file is complete."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    """The owner: a tenant's id, or 'admin' for the operator's own files."""
    filename: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """For checked purposes: `lines`, and for fine-tuning `examples`."""
    pii: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """For fine-tuning files: the personal-data scan's report (counts, never values)."""


class Job(Base):
    """Work that outlives a request (a fine-tuning job, an evaluation run), queued here and run
    by whichever worker claims it (`corral.jobs`). A claimed job names its worker and the
    lease it renews; once the lease has expired another worker may take it over."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        Index("ix_jobs_status_created", "status", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str] = mapped_column(String(32))
    """The owner: a tenant id, or 'admin'."""
    status: Mapped[str] = mapped_column(String(24))
    """queued | running | succeeded | failed | cancelled, or a kind's own state before running
    (e.g. validating_files)."""
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
    """{"done", "total", "extra"}, saved with each checkpoint."""
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The handler's own state at its last checkpoint: where a resumed job starts again."""
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """{"code", "message"} of a failed job, as its owner may read it."""
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Claims so far: a checkpoint or an end is accepted only from the latest one."""
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    """The last event's `seq`; counted here so that concurrent writers never share one."""
    worker_id: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class JobEvent(Base):
    """A job's log as its owner reads it (OpenAI's fine-tuning job events), in `seq` order."""

    __tablename__ = "job_events"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(8))
    """info | warn | error"""
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EvalDefinition(Base):
    """An evaluation (OpenAI's Evals API): what its items look like and how they are graded.
    Its runs are jobs of kind `eval_run` (`corral.evals`)."""

    __tablename__ = "evals"
    __table_args__ = (Index("ix_evals_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    """The owner: a tenant's id, or 'admin'."""
    name: Mapped[str] = mapped_column(String(256))
    data_source_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    testing_criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The caller's `metadata`."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EvalOutputItem(Base):
    """One graded item of a run, written in the checkpoint that finishes it: the primary key
    makes sure an item is recorded once, however often its run is resumed."""

    __tablename__ = "eval_output_items"
    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    item_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(48), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    """pass | fail | error"""
    datasource_item: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sample: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    """A signed-in console browser (`api.console`): the cookie carries a random token, the row
    only its SHA-256, so a copy of the database cannot be used to sign in. The key itself is
    never kept: each request checks `key_id` against the directory, so a revoked key's
    sessions end with it."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the cookie's token."""
    csrf: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    """admin | tenant"""
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """The absolute end, however busy the session is."""


class ConsoleConversation(Base):
    """A chat of the console's assistant, kept for its tenant (and readable by nobody else)."""

    __tablename__ = "console_conversations"
    __table_args__ = (Index("ix_console_conversations_tenant_updated", "tenant_id", "updated_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(128))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """[{"role": "user" | "assistant", "content": str}] in order."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FineTunedModel(Base):
    """A tenant's private model, the result of a fine-tuning job: a LoRA adapter served on the
    shared base, with what it was made from (`lineage`). A deleted one keeps its row (the
    lineage stays for audits) but is no longer served."""

    __tablename__ = "fine_tuned_models"
    __table_args__ = (Index("ix_fine_tuned_models_tenant", "tenant_id"),)
    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    """The model's name, `ft:<base>:<tenant id>:<suffix>:<job>`."""
    tenant_id: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(40), unique=True)
    base_model: Mapped[str] = mapped_column(String(128))
    adapter_path: Mapped[str] = mapped_column(Text)
    adapter_sha256: Mapped[str] = mapped_column(String(64))
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
