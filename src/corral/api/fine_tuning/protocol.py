"""The Fine-tuning jobs API's bodies and answers, in OpenAI's shapes, so that
`client.fine_tuning.jobs` of the `openai` SDK reads them unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from corral.finetune.params import JOB_PREFIX
from corral.jobs import Event, Job


class CreateJob(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    hyperparameters: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    pseudonymize_pii: bool = False
    """corral's own (the SDK's `extra_body`): train on the file with its personal data
    replaced by placeholders."""


class Hyperparameters(BaseModel):
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    finished_at: int | None
    model: str
    fine_tuned_model: str | None
    organization_id: str
    status: str
    training_file: str
    validation_file: str | None
    result_files: list[str]
    hyperparameters: Hyperparameters
    method: dict[str, Any]
    seed: int
    trained_tokens: int | None
    error: JobError | None
    estimated_finish: int | None = None
    integrations: list[Any] | None = None
    metadata: dict[str, str] | None = None

    @classmethod
    def of(cls, job: Job, now: dt.datetime) -> FineTuningJob:
        params, result = job.params, job.result or {}
        hyper = Hyperparameters(**params["hyperparameters"])
        eta = job.eta_seconds(now)
        trained = result.get("trained_tokens", job.progress.extra.get("trained_tokens"))
        return cls(
            id=job.id,
            created_at=_epoch(job.created_at),
            finished_at=None if job.finished_at is None else _epoch(job.finished_at),
            model=params["model"],
            fine_tuned_model=result.get("fine_tuned_model"),
            organization_id=job.tenant_id,
            status=job.status,
            training_file=params["training_file"],
            validation_file=params.get("validation_file"),
            result_files=[],
            hyperparameters=hyper,
            method={"type": "supervised", "supervised": {"hyperparameters": hyper.model_dump()}},
            seed=params["seed"],
            trained_tokens=trained if job.finished else None,
            error=None if job.error is None else JobError(**job.error),
            estimated_finish=None if eta is None else _epoch(now) + int(eta),
            metadata=params.get("metadata"),
        )


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class JobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: str
    message: str
    type: Literal["message", "metrics"]
    data: dict[str, Any] | None

    @classmethod
    def of(cls, job_id: str, event: Event) -> JobEvent:
        metrics = event.data is not None and "train_loss" in event.data
        return cls(
            id=event_id(job_id, event.seq),
            created_at=_epoch(event.created_at),
            level=event.level,
            message=event.message,
            type="metrics" if metrics else "message",
            data=event.data,
        )


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool


class CheckpointMetrics(BaseModel):
    step: float
    train_loss: float
    valid_loss: float | None = None


class JobCheckpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    step_number: int
    metrics: CheckpointMetrics


class CheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobCheckpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


def event_id(job_id: str, seq: int) -> str:
    return f"ftevent-{job_id.removeprefix(JOB_PREFIX)}-{seq}"


def checkpoint_id(job_id: str, step: int) -> str:
    return f"ftckpt-{job_id.removeprefix(JOB_PREFIX)}-{step}"


def seq_of(cursor_id: str) -> int | None:
    """The number at the end of an event or checkpoint id; None for anything else."""
    tail = cursor_id.rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())
