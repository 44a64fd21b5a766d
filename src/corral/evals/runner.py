"""The `eval_run` job kind: grade a dataset's items one by one, checkpointing after each.

Each item's grades are written in the checkpoint that finishes it, so a run resumed after its
worker died starts at the first unfinished item and no item is graded (or recorded) twice; the
calls of the item that was in flight are billed once (`calls.ModelCaller.start_item`).
The model calls go through the gateway (`calls.ModelCaller`). A finished run is summed up and
its manifest signed with the operator's key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    CorralError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from corral.evals import contamination, exposure, report, suites
from corral.evals.billing import RunHold, quote, remaining
from corral.evals.calls import (
    CALLS_LOOKED_UP,
    ModelCaller,
    call_id,
    principal_of,
    sampling_params,
)
from corral.evals.graders import Grader, build
from corral.evals.manifest import SigningKey, digest
from corral.evals.store import EvalStore, OutputItem, item_write
from corral.evals.templates import input_messages
from corral.files.store import FileStore
from corral.jobs import Job, JobContext, Progress
from corral.metering.ledger import Ledger
from corral.pipeline.auth import Principal
from corral.pipeline.gateway import Gateway

KIND = "eval_run"
ID_PREFIX = "evalrun_"
_FATAL = (BudgetExceeded, AuthenticationFailed, PermissionDenied, NotFound)
"""Errors that no later item would escape: they fail the run instead of one item."""
FineTunedFacts = Callable[[str], Awaitable[tuple[dict[str, Any], list[Path]] | None]]


@dataclass(frozen=True, slots=True)
class EvalDeps:
    gateway: Gateway
    files: FileStore
    evals: EvalStore
    signer: SigningKey
    model_facts: Callable[[str], dict[str, Any]]
    """The manifest's facts about a model id (weights digest, upstream name)."""
    corpora: Callable[[str], Sequence[Path]] = lambda model: ()
    """What a model id may have been trained on: a run is checked for contamination against
    these (`evals.contamination`)."""
    ngram: int = 13
    ledger: Ledger | None = None
    """Where a run's budget hold is kept (`evals.billing`); None: runs hold nothing."""
    fine_tuned: FineTunedFacts | None = None
    """A fine-tuned model's facts and the files it was trained on (`provenance`)."""


class EvalRunHandler:
    def __init__(self, deps: Callable[[], EvalDeps]) -> None:
        # Built on the first run: a worker that never runs an eval never loads the models.
        self._make_deps = deps
        self._deps: EvalDeps | None = None

    def deps(self) -> EvalDeps:
        if self._deps is None:
            self._deps = self._make_deps()
        return self._deps

    async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
        deps = self.deps()
        params = job.params
        source = params["data_source"]
        items, dataset = await load_items(deps.files, job.tenant_id, source["source"])
        graders = build(params["testing_criteria"])
        caller = ModelCaller(
            deps.gateway, principal_of(params["principal"]), source["model"], job.id
        )
        state = dict(job.checkpoint or {"done": 0, "passed": 0, "graded": 0})
        resumed_at = state["done"] if context.attempt > 1 else None
        hold, after = await _run_hold(deps, params, items, graders, caller.principal)
        try:
            if hold is not None and state["done"] < len(items):  # each item's calls hold their own
                await hold.resize(after[state["done"]])
            for index in range(state["done"], len(items)):
                # Only the item in flight when a worker died or stopped can have been billed
                # without being checkpointed.
                billed = await _billed(deps.evals, job.id, index) if index == resumed_at else None
                caller.start_item(index, billed or frozenset())
                output = await grade_item(job.id, index, items[index], source, graders, caller)
                state["done"] = index + 1
                state["graded"] += output.status != "error"
                state["passed"] += output.status == "pass"
                progress = _progress(state, len(items))
                saved = context.checkpoint(state, progress, write=item_write(output))
                await _saved(saved, hold, after[index + 1 : index + 2])
        finally:
            if hold is not None:
                await hold.drop()
        return await self._finish(deps, job, params, dataset, graders, caller)

    async def _finish(
        self,
        deps: EvalDeps,
        job: Job,
        params: dict[str, Any],
        dataset: dict[str, Any],
        graders: Sequence[Grader],
        caller: ModelCaller,
    ) -> dict[str, Any]:
        outputs = await deps.evals.all_items(job.id)
        names = [g.name for g in graders]
        seed = int(params.get("seed", 0))
        figures = {
            "result_counts": report.result_counts(outputs, dataset["items"]),
            "per_testing_criteria_results": report.per_criterion(outputs, names),
            "scores": report.scores(outputs, names, seed),
        }
        source = params["data_source"]
        model, trained_on = await _model(deps, source["model"])
        corpora = [*deps.corpora(source["model"]), *trained_on]
        if corpora:
            figures["contamination"] = await asyncio.to_thread(
                contamination.report, corpora, outputs, names, seed, deps.ngram
            )
        model["answered_by"] = sorted(caller.answered_by)
        run = {
            "id": job.id,
            "eval_id": params["eval_id"],
            "seed": seed,
            "sampling_params": source.get("sampling_params") or {},
            "input_messages": source.get("input_messages"),
            "testing_criteria": params["testing_criteria"],
        }
        body = report.manifest_body(run, model, dataset, outputs, figures)
        body["exposure"] = exposure.sent(body)  # the items this run sent to a third party
        return {**figures, "manifest": deps.signer.sign(body)}


async def _model(deps: EvalDeps, model_id: str) -> tuple[dict[str, Any], Sequence[Path]]:
    """The manifest's facts about the model, and the files it was trained on (its lineage)."""
    found = await deps.fine_tuned(model_id) if deps.fine_tuned is not None else None
    if found is not None:
        return found
    return await asyncio.to_thread(deps.model_facts, model_id), ()


async def grade_item(
    run_id: str,
    index: int,
    item: dict[str, Any],
    source: dict[str, Any],
    graders: Sequence[Grader],
    caller: ModelCaller,
) -> OutputItem:
    scope: dict[str, Any] = {"item": item}
    sample: dict[str, Any] | None = None
    try:
        if any(g.needs_sample for g in graders):
            sample = await _sample(scope, source, caller)
            scope["sample"] = sample
        grades = [(await g.grade(scope, caller)).to_json() for g in graders]
        status = "pass" if all(g["passed"] for g in grades) else "fail"
    except _FATAL:
        raise
    except CorralError as exc:
        grades, status = [], "error"
        sample = {**(sample or {}), "error": {"code": exc.code, "message": exc.message}}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    item_id = f"outputitem_{digest(f'{run_id}:{index}')[:24]}"
    return OutputItem(item_id, run_id, index, status, item, grades, sample, now)


async def _sample(
    scope: dict[str, Any], source: dict[str, Any], caller: ModelCaller
) -> dict[str, Any]:
    messages = input_messages(source.get("input_messages") or {}, scope)
    if not messages:
        raise InvalidRequest("The run has no input messages.", param="data_source.input_messages")
    result = await caller.chat(messages, sampling_params(source.get("sampling_params") or {}))
    return {
        "output_text": result.text,
        "finish_reason": result.finish_reason,
        "input": messages,
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.prompt_tokens + result.usage.completion_tokens,
        },
    }


async def _saved(saved: Awaitable[None], hold: RunHold | None, then: list[int]) -> None:
    """The item's checkpoint, while the run's hold shrinks to what the items after the next
    one may cost (`then`: that amount; empty after the last item, or with no hold: the next
    item's calls hold their own). The shrinking is waited for, however the checkpoint ends, so
    that the hold's `drop` cannot come before it."""
    if hold is None or not then:
        await saved
        return
    shrink = asyncio.ensure_future(hold.resize(then[0]))
    try:
        await saved
    finally:
        await shrink


async def _run_hold(
    deps: EvalDeps,
    params: dict[str, Any],
    items: Sequence[dict[str, Any]],
    graders: Sequence[Grader],
    principal: Principal,
) -> tuple[RunHold | None, list[int]]:
    """The run's hold on its tenant's budget (made when the run was), and what the items
    after each one may cost; None when the run holds nothing."""
    hold = RunHold.of(deps.ledger, params.get("billing") or {}) if deps.ledger else None
    if hold is None:
        return None, []
    costs = await quote(deps.gateway, principal, items, params["data_source"], graders)
    return hold, remaining(costs)


async def _billed(evals: EvalStore, run_id: str, index: int) -> frozenset[str]:
    ids = [call_id(run_id, index, n) for n in range(1, CALLS_LOOKED_UP + 1)]
    return await evals.billed(ids)


def _progress(state: dict[str, Any], total: int) -> Progress:
    graded = state["graded"]
    score = state["passed"] / graded if graded else None
    extra = {"passed": state["passed"], "graded": graded, "score": score}
    return Progress(state["done"], total, extra)


async def load_items(
    files: FileStore, owner: str, source: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The run's items, and what the manifest says of the dataset (its SHA-256)."""
    if source.get("type") == "corral_suite":
        suite = suites.get(source.get("name"))
        items, sha256 = await asyncio.to_thread(suite.items)
        return items, {"suite": suite.name, "sha256": sha256, "items": len(items)}
    if source.get("type") == "file_content":
        rows = list(source.get("content") or [])
        items = [_item_of(row) for row in rows]
        return items, {"source": "file_content", "sha256": digest(rows), "items": len(items)}
    file_id = source["id"]
    record = await files.get(owner, file_id)
    path = await files.content(owner, file_id)
    items = await asyncio.to_thread(_read_jsonl, path)
    return items, {"file_id": file_id, "sha256": record.sha256, "items": len(items)}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [_item_of(json.loads(line)) for line in f if line.strip()]


def _item_of(row: Any) -> dict[str, Any]:
    if isinstance(row, dict) and isinstance(row.get("item"), dict):
        return dict(row["item"])
    if isinstance(row, dict):
        return row
    raise InvalidRequest("An eval item is not a JSON object.", code="invalid_file")
