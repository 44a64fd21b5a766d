"""What tenants keep and run: stored responses, uploaded files, jobs and their events,
evaluations, fine-tuned models."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from corral.storage.tables.base import Base, UTCDateTime


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
