"""Creating evals and starting runs: checked here, so that a run that cannot work is refused
when it is asked for (400), not failed minutes later in a worker."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from corral.errors import InvalidRequest
from corral.evals import suites
from corral.evals.billing import Budgeting, hold_for_run
from corral.evals.calls import principal_json
from corral.evals.datasets import Datasets
from corral.evals.graders import Grader, build
from corral.evals.runner import ID_PREFIX, KIND, load_items
from corral.evals.store import EvalRecord, EvalStore
from corral.files.store import FileStore
from corral.jobs import Job, JobQueue
from corral.pipeline.auth import Principal
from corral.pipeline.gateway import RequestContext

if TYPE_CHECKING:
    from corral.services import Services

SOURCE_TYPES = ("file_id", "file_content", "corral_suite")


def owner_of(principal: Principal) -> str:
    return principal.tenant_id or "admin"


async def create_eval(
    store: EvalStore,
    principal: Principal,
    name: str | None,
    data_source_config: dict[str, Any],
    testing_criteria: list[dict[str, Any]],
    metadata: dict[str, Any] | None,
) -> EvalRecord:
    if data_source_config.get("type") not in ("custom", "stored_completions"):
        raise InvalidRequest(
            "data_source_config.type must be 'custom'.", param="data_source_config.type"
        )
    if not testing_criteria:
        raise InvalidRequest("An eval needs testing criteria.", param="testing_criteria")
    build(testing_criteria)
    return await store.create(
        owner_of(principal), name or "eval", data_source_config, testing_criteria, metadata
    )


async def create_run(
    queue: JobQueue,
    files: FileStore,
    evaluation: EvalRecord,
    principal: Principal,
    name: str | None,
    data_source: dict[str, Any],
    metadata: dict[str, Any] | None,
    budgeting: Budgeting | None = None,
) -> Job:
    """Queue the run as an `eval_run` job; it calls the model as `principal`. With
    `budgeting` (the API's runs), the run is quoted, and its quote held on its tenant's
    budget (`evals.billing`)."""
    if data_source.get("type") != "completions":
        raise InvalidRequest(
            "Only 'completions' data sources are supported yet.", param="data_source.type"
        )
    if not isinstance(data_source.get("model"), str):
        raise InvalidRequest("The run names no model.", param="data_source.model")
    graders = build(evaluation.testing_criteria)
    _check_messages(data_source.get("input_messages") or {}, graders)
    source = data_source.get("source") or {}
    total = await _count_items(files, owner_of(principal), source)
    seed = (data_source.get("sampling_params") or {}).get("seed")
    params: dict[str, Any] = {
        "eval_id": evaluation.id,
        "name": name or f"run-{secrets.token_hex(4)}",
        "metadata": metadata,
        "data_source": data_source,
        "testing_criteria": evaluation.testing_criteria,
        "principal": principal_json(principal),
        "seed": int(seed) if seed is not None else 0,
    }
    hold = None
    if budgeting is not None:
        items, _ = await load_items(files, owner_of(principal), source)
        params["billing"], hold = await hold_for_run(
            budgeting, principal, items, data_source, graders
        )
    try:
        return await queue.submit(
            KIND, owner_of(principal), params, id_prefix=ID_PREFIX, total=total
        )
    except BaseException:
        if hold is not None:
            await hold.drop()
        raise


def _check_messages(messages: dict[str, Any], graders: list[Grader]) -> None:
    template = messages.get("template")
    reference = messages.get("item_reference")
    if messages.get("type") == "item_reference":
        if not (isinstance(reference, str) and reference.startswith("item.")):
            raise InvalidRequest(
                "input_messages.item_reference must name an item field ('item.input').",
                param="data_source.input_messages.item_reference",
            )
    elif any(g.needs_sample for g in graders) and not (isinstance(template, list) and template):
        raise InvalidRequest(
            "The eval grades the model's answers: the run needs input_messages.template.",
            param="data_source.input_messages",
        )


def judge_models(testing_criteria: list[dict[str, Any]]) -> list[str]:
    """The models the eval's model graders call: a run must be allowed to call them too."""
    return sorted(
        {
            str(c["model"])
            for c in testing_criteria
            if c.get("type") in ("label_model", "score_model") and isinstance(c.get("model"), str)
        }
    )


async def _count_items(files: FileStore, owner: str, source: dict[str, Any]) -> int:
    kind = source.get("type")
    if kind == "corral_suite":
        items, _ = suites.get(source.get("name")).items()
        return len(items)
    if kind == "file_content":
        content = source.get("content")
        if not isinstance(content, list) or not content:
            raise InvalidRequest("The source has no content.", param="data_source.source.content")
        return len(content)
    if kind != "file_id" or not isinstance(source.get("id"), str):
        raise InvalidRequest(
            f"data_source.source.type must be one of {', '.join(SOURCE_TYPES)}.",
            param="data_source.source",
        )
    record = await files.get(owner, source["id"])
    if record.purpose != "evals":
        raise InvalidRequest(
            f"File {record.id} was uploaded for '{record.purpose}', not 'evals'.",
            param="data_source.source.id",
        )
    return int((record.summary or {}).get("lines", 0)) or 0


async def start_run(
    services: Services,
    ctx: RequestContext,
    evaluation: EvalRecord,
    name: str | None,
    data_source: dict[str, Any],
    metadata: dict[str, Any] | None,
    allow_private_dataset: bool,
) -> Job:
    """A run as the API and `corral eval run` start it: its model and judges resolved for the
    caller (unknown or not entitled: refused now), a private dataset kept from partners, then
    quoted and held on the caller's budget (`create_run` with `Budgeting`)."""
    model = data_source.get("model")
    names = [model] if isinstance(model, str) else []
    targets = [
        await services.gateway.resolve(ctx, one)
        for one in [*names, *judge_models(evaluation.testing_criteria)]
    ]
    await Datasets(services.db, services.files).check_run(
        owner_of(ctx.principal),
        data_source.get("source") or {},
        [entry for target in targets for entry in target.candidates],
        allow_private_dataset,
    )
    return await create_run(
        services.jobs,
        services.files,
        evaluation,
        ctx.principal,
        name,
        data_source,
        metadata,
        Budgeting(services.gateway, services.ledger),
    )
