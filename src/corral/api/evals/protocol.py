"""The Evals API's bodies and answers, in OpenAI's shapes (so `client.evals` of the `openai`
SDK works), plus corral's `corral` details on a run: progress, scores with confidence
intervals, and the signed manifest of a finished run."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from corral.evals.datasets import Dataset
from corral.evals.leaderboard import Row
from corral.evals.store import EvalRecord, OutputItem
from corral.jobs import Job

RunStatus = Literal["queued", "in_progress", "completed", "failed", "canceled"]
_STATUS: dict[str, RunStatus] = {
    "queued": "queued",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "canceled",
}


class EvalCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=256)
    data_source_config: dict[str, Any]
    testing_criteria: list[dict[str, Any]] = Field(max_length=32)
    metadata: dict[str, Any] | None = None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=256)
    data_source: dict[str, Any]
    metadata: dict[str, Any] | None = None
    allow_private_dataset: bool = False
    """corral's: send a dataset marked private to a partner model all the same."""


class DatasetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    private: bool


class DatasetObject(BaseModel):
    object: Literal["eval.dataset"] = "eval.dataset"
    id: str
    """The file's id."""
    sha256: str
    private: bool

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetObject:
        return cls(id=dataset.file_id, sha256=dataset.sha256, private=dataset.private)


class EvalObject(BaseModel):
    object: Literal["eval"] = "eval"
    id: str
    name: str
    data_source_config: dict[str, Any]
    testing_criteria: list[dict[str, Any]]
    created_at: int
    metadata: dict[str, Any] | None

    @classmethod
    def of(cls, record: EvalRecord) -> EvalObject:
        config = dict(record.data_source_config)
        # OpenAI answers with the JSON schema of what templates may name.
        item_schema = config.pop("item_schema", None) or {"type": "object"}
        properties: dict[str, Any] = {"item": item_schema}
        if config.pop("include_sample_schema", False):
            properties["sample"] = {"type": "object"}
        config["schema"] = {"type": "object", "properties": properties, "required": ["item"]}
        return cls(
            id=record.id,
            name=record.name,
            data_source_config=config,
            testing_criteria=record.testing_criteria,
            created_at=_ts(record.created_at),
            metadata=record.metadata,
        )


class EvalList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EvalObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ResultCounts(BaseModel):
    total: int
    passed: int
    failed: int
    errored: int


class CriterionResult(BaseModel):
    testing_criteria: str
    passed: int
    failed: int


class RunError(BaseModel):
    code: str
    message: str


class RunDetails(BaseModel):
    """corral's extension: how far the run is, its scores, its manifest once finished."""

    job_id: str
    done: int
    total: int | None
    running_score: float | None
    eta_seconds: float | None
    attempts: int
    scores: dict[str, Any] | None
    manifest: dict[str, Any] | None
    quote_micros: int | None = None
    """The most the run may cost (micro-units), held on its tenant's budget when it has one."""


class RunObject(BaseModel):
    object: Literal["eval.run"] = "eval.run"
    id: str
    eval_id: str
    name: str
    status: RunStatus
    model: str
    data_source: dict[str, Any]
    created_at: int
    error: RunError | None
    metadata: dict[str, Any] | None
    report_url: str
    result_counts: ResultCounts
    per_model_usage: list[dict[str, Any]] | None
    per_testing_criteria_results: list[CriterionResult] | None
    corral: RunDetails

    @classmethod
    def of(cls, job: Job, now: dt.datetime) -> RunObject:
        params, result = job.params, job.result or {}
        total = job.progress.total or 0
        counts = result.get("result_counts") or {
            "total": total,
            "passed": 0,
            "failed": 0,
            "errored": 0,
        }
        extra = job.progress.extra
        return cls(
            id=job.id,
            eval_id=params["eval_id"],
            name=params["name"],
            status=_STATUS.get(job.status, "in_progress"),
            model=params["data_source"]["model"],
            data_source=params["data_source"],
            created_at=_ts(job.created_at),
            error=RunError(**job.error) if job.error else None,
            metadata=params.get("metadata"),
            report_url="",
            result_counts=ResultCounts(**counts),
            per_model_usage=None,
            per_testing_criteria_results=result.get("per_testing_criteria_results"),
            corral=RunDetails(
                job_id=job.id,
                done=job.progress.done,
                total=job.progress.total,
                running_score=extra.get("score"),
                eta_seconds=job.eta_seconds(now),
                attempts=job.attempts,
                scores=result.get("scores"),
                manifest=result.get("manifest"),
                quote_micros=(params.get("billing") or {}).get("quote_micros"),
            ),
        )


class RunList(BaseModel):
    object: Literal["list"] = "list"
    data: list[RunObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class OutputItemObject(BaseModel):
    object: Literal["eval.run.output_item"] = "eval.run.output_item"
    id: str
    run_id: str
    eval_id: str
    created_at: int
    status: str
    datasource_item_id: int
    datasource_item: dict[str, Any]
    results: list[dict[str, Any]]
    sample: dict[str, Any] | None

    @classmethod
    def of(cls, item: OutputItem, eval_id: str, model: str) -> OutputItemObject:
        return cls(
            id=item.id,
            run_id=item.run_id,
            eval_id=eval_id,
            created_at=_ts(item.created_at),
            status=item.status,
            datasource_item_id=item.index,
            datasource_item=item.datasource_item,
            results=item.results,
            sample=_sample(item.sample, model),
        )


class OutputItemList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OutputItemObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class SigningKeyObject(BaseModel):
    object: Literal["eval.signing_key"] = "eval.signing_key"
    algorithm: Literal["ed25519"]
    key_id: str
    public_key: str
    """Base64 of the raw 32-byte key: `corral eval verify --key` takes it."""
    pem: str


class LeaderboardRow(BaseModel):
    rank: int
    """1 + the number of models whose whole 95 % interval lies above this one's."""
    tied_with: list[str]
    """Models of the same rank: their intervals overlap, the data cannot order them."""
    model: str
    digest: str | None
    standing: Literal["current", "stale", "unknown"]
    """`current` while the model served under this name has the digest the run recorded."""
    pass_rate: float
    pass_rate_ci95: tuple[float, float]
    n: int
    eval_id: str
    run_id: str
    """Its manifest: `GET /v1/evals/{eval_id}/runs/{run_id}` (`corral.manifest`)."""
    signed_at: str

    @classmethod
    def of(cls, row: Row) -> LeaderboardRow:
        return cls(
            rank=row.rank,
            tied_with=list(row.tied_with),
            model=row.model,
            digest=row.digest,
            standing=row.standing,
            pass_rate=row.pass_rate,
            pass_rate_ci95=row.ci95,
            n=row.n,
            eval_id=row.eval_id,
            run_id=row.run_id,
            signed_at=row.signed_at,
        )


class Leaderboard(BaseModel):
    object: Literal["eval.leaderboard"] = "eval.leaderboard"
    dataset: str
    """The dataset's SHA-256."""
    criterion: str | None
    data: list[LeaderboardRow]
    exposure: list[dict[str, Any]]
    """The third-party providers the dataset's items were sent to by the caller's finished
    runs: provider, upstream model, items, runs, first and last (`corral.evals.exposure`)."""


class SuiteObject(BaseModel):
    """A built-in suite, with what to run it with (`corral.evals.suites`)."""

    object: Literal["eval.suite"] = "eval.suite"
    name: str
    description: str
    language: str
    items: int
    sha256: str
    license: str
    data_source_config: dict[str, Any]
    testing_criteria: list[dict[str, Any]]
    input_messages: list[dict[str, str]] | None


class SuiteList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SuiteObject]


def _sample(sample: dict[str, Any] | None, model: str) -> dict[str, Any] | None:
    """OpenAI's sample: the input turns, the output turns, usage, any error."""
    if sample is None:
        return None
    out: dict[str, Any] = {"model": model, "input": sample.get("input", [])}
    if "output_text" in sample:
        out["output"] = [{"role": "assistant", "content": sample["output_text"]}]
    for key in ("finish_reason", "usage", "error"):
        if key in sample:
            out[key] = sample[key]
    return out


def _ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())
