"""Multiple choice on the embedded model: each option scored by log-likelihood through the
gateway, the run's manifest naming the SHA-256 of the GGUF it ran on; a second run of the same
eval reproduces every item's output digest (greedy scoring is deterministic)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from corral.evals.manifest import SigningKey
from corral.evals.provenance import model_facts
from corral.evals.runner import KIND, EvalDeps, EvalRunHandler
from corral.evals.service import create_eval, create_run
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from corral.pipeline.auth import ADMIN
from corral.services import Services, build_services
from corral.settings import load_settings
from tests.jobs.conftest import eventually, fast_worker, running
from tests.support import ADMIN_KEY, MODEL

QUESTIONS = [
    {
        "question": "What colour is the sky on a clear day?",
        "choices": [" blue", " green"],
        "label": 0,
    },
    {"question": "How many legs does a cat have?", "choices": [" two", " four"], "label": 1},
]
MULTIPLE_CHOICE = {
    "type": "multiple_choice",
    "name": "mc",
    "input": "Question: {{item.question}}\nAnswer:",
    "choices": "{{item.choices}}",
    "answer": "{{item.label}}",
}


@pytest.fixture
def services(tmp_path: Path, model_path: Path) -> Iterator[Services]:
    settings = load_settings(
        home=tmp_path,
        embedded_model=False,
        models=[{"name": MODEL, "path": str(model_path), "context_length": 256, "threads": 1}],
    )
    built = build_services(settings, SecretStr(ADMIN_KEY))
    yield built
    built.db.close()


async def run_once(services: Services) -> dict[str, Any]:
    home = services.settings.home
    store = EvalStore(services.db)
    files = FileStore(services.db, home, services.settings.files)
    evaluation = await create_eval(store, ADMIN, "mc", {"type": "custom"}, [MULTIPLE_CHOICE], None)
    source = {
        "type": "completions",
        "model": MODEL,
        "source": {"type": "file_content", "content": [{"item": q} for q in QUESTIONS]},
    }
    queue = JobQueue(services.db)
    job = await create_run(queue, files, evaluation, ADMIN, None, source, None)
    deps = EvalDeps(
        services.gateway,
        files,
        store,
        SigningKey.load_or_create(home),
        lambda model: model_facts(services.settings, model, home),
    )
    async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)}, lease_s=30)):
        done = await eventually(lambda: queue.get(job.id), lambda j: j.finished, within_s=300)
    assert done.status == "succeeded", done.error
    assert done.result is not None
    items = await store.all_items(job.id)
    for item in items:  # each option scored: a log-probability below zero
        [grade] = item.results
        assert all(lp < 0 for lp in grade["detail"]["logprobs"]), grade
    return done.result


async def test_multiple_choice_on_the_embedded_model_is_signed_and_reproducible(
    services: Services, model_path: Path
) -> None:
    weights = hashlib.sha256(model_path.read_bytes()).hexdigest()  # noqa: ASYNC240
    try:
        first = await run_once(services)
        second = await run_once(services)
    finally:
        for entry in services.gateway.catalog.entries():
            await entry.backend.close()

    manifest = first["manifest"]["manifest"]
    served = services.gateway.catalog.get(manifest["model"]["id"])
    assert manifest["model"]["weights_sha256"] == weights
    assert manifest["model"]["digest"] == served.digest  # the model the API says it serves
    assert manifest["model"]["kv_cache_type"] == "q8_0"
    assert first["result_counts"]["total"] == 2 and first["result_counts"]["errored"] == 0
    assert first["scores"]["mc"]["n"] == 2
    digests = [i["output_sha256"] for i in manifest["items"]]
    assert digests == [i["output_sha256"] for i in second["manifest"]["manifest"]["items"]]


async def test_the_embedded_model_judges_a_sample_through_the_gateway(
    services: Services,
) -> None:
    """The mechanics, not the judgement (a 135M model is a poor judge): the judge is called and
    billed like the sampled call, and its answer is a label or the item's error."""
    from sqlalchemy import select

    from corral.storage.tables import UsageRecord

    home = services.settings.home
    store, queue = EvalStore(services.db), JobQueue(services.db)
    files = FileStore(services.db, home, services.settings.files)
    judge = {
        "type": "label_model",
        "name": "judge",
        "model": MODEL,
        "input": [
            {"role": "system", "content": "Answer with one word: yes or no."},
            {"role": "user", "content": "Is this about the sky? {{sample.output_text}}"},
        ],
        "labels": ["yes", "no"],
        "passing_labels": ["yes"],
        "sampling_params": {"max_completions_tokens": 4},
    }
    evaluation = await create_eval(store, ADMIN, "judged", {"type": "custom"}, [judge], None)
    source = {
        "type": "completions",
        "model": MODEL,
        "source": {"type": "file_content", "content": [{"item": QUESTIONS[0]}]},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "{{item.question}}"}],
        },
        "sampling_params": {"max_completions_tokens": 8},
    }
    job = await create_run(queue, files, evaluation, ADMIN, None, source, None)
    deps = EvalDeps(
        services.gateway, files, store, SigningKey.load_or_create(home), lambda m: {"id": m}
    )
    try:
        async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)}, lease_s=30)):
            done = await eventually(lambda: queue.get(job.id), lambda j: j.finished, within_s=300)
    finally:
        for entry in services.gateway.catalog.entries():
            await entry.backend.close()
    assert done.status == "succeeded", done.error
    [item] = await store.all_items(job.id)
    if item.status == "error":
        assert item.sample is not None
        assert "not one of the labels" in item.sample["error"]["message"]
    else:
        assert item.results[0]["detail"]["label"] in ("yes", "no")
    with services.db.read() as session:
        rows = list(session.scalars(select(UsageRecord)))
    assert len(rows) == 2  # the sampled answer and the judge's, each billed once
