"""A fine-tuning job's page (status, hyperparameters, events, the loss curve, the model and its
lineage) and an evaluation run's attestation page (the signed manifest checked against this
server's key, the model's digest against what is served now, the manifest as a download),
over HTTP; each for its own tenant only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from corral.evals.manifest import SigningKey, verify
from corral.evals.runner import ID_PREFIX as RUN_PREFIX
from corral.evals.runner import KIND as EVAL_RUN
from corral.finetune.models import record
from corral.finetune.params import JOB_PREFIX, KIND
from corral.jobs import Entry
from corral.jobs.model import Claim
from corral.services import Services
from tests.console.server import Console, running_console, signed_in
from tests.support import echo_entry, in_process_services

SERVED = "scored-echo"
DIGEST = "a" * 64


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-detail")
    scored = echo_entry(SERVED, context_length=1000, digest=DIGEST)
    with running_console(
        home, embedded=False, extra=[scored], jobs={"worker_in_server": False}
    ) as running:
        yield running


def _finished_job(
    console: Console,
    kind: str,
    tenant_id: str,
    params: dict[str, Any],
    prefix: str,
    events: list[Entry],
    result: dict[str, Any],
) -> str:
    """A job run to its end as a worker would: claimed, its events logged, succeeded (what
    `corral worker` writes, without training or grading: those have their own tests)."""

    async def run(services: Services) -> str:
        job = await services.jobs.submit(kind, tenant_id, params, id_prefix=prefix)
        claimed = await services.jobs.claim_next("test-worker", [kind], 60)
        assert claimed is not None and claimed.id == job.id
        claim = Claim(job.id, "test-worker", claimed.attempts)
        await services.jobs.update(claim, events)
        await services.jobs.finish(claim, "succeeded", result=result)
        if kind == KIND:
            with services.db.write() as session:
                record(session, job.id, tenant_id, result)
        return job.id

    services = in_process_services(console.home)
    try:
        return asyncio.run(run(services))
    finally:
        services.db.close()


def _fine_tuned(console: Console, tenant_id: str) -> tuple[str, str]:
    params = {
        "model": "SmolLM2-135M-Instruct",
        "training_file": "file-train",
        "validation_file": "file-valid",
        "suffix": "support",
        "seed": 7,
        "hyperparameters": {"n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 0.5},
    }
    losses = [(1, 2.5, 2.7), (2, 1.75, 2.1), (3, 1.2, 1.9), (4, 0.8, 1.85)]
    events = [Entry("Training started <now>")] + [
        Entry(f"Step {s}/4: training loss={t}", {"step": s, "train_loss": t, "valid_loss": v})
        for s, t, v in losses
    ]
    model = f"ft:SmolLM2-135M-Instruct:{tenant_id}:support"
    result = {
        "fine_tuned_model": model,
        "trained_tokens": 1234,
        "adapter_gguf": str(console.home / "adapter.gguf"),
        "adapter_sha256": "b" * 64,
        "lineage": {
            "base_model": "SmolLM2-135M-Instruct",
            "base_digest": "c" * 64,
            "file_sha256": {"training_file": "d" * 64, "validation_file": "e" * 64},
            "hyperparameters": params["hyperparameters"],
            "seed": 7,
            "adapter_sha256": "b" * 64,
            "lora": {"r": 8, "alpha": 16, "targets": ["q_proj", "v_proj"]},
        },
    }
    return _finished_job(console, KIND, tenant_id, params, JOB_PREFIX, events, result), model


def test_a_job_page_shows_its_loss_curve_events_and_model_lineage(console: Console) -> None:
    acme, globex = console.tenants["acme"], console.tenants["globex"]
    job_id, model = _fine_tuned(console, acme.id)

    with signed_in(console, acme.key) as client:
        listing = client.get("/console/fine-tuning").text
        response = client.get(f"/console/fine-tuning/{job_id}")
    with signed_in(console, globex.key) as client:
        other = client.get(f"/console/fine-tuning/{job_id}")

    html = response.text
    assert f'href="/console/fine-tuning/{job_id}"' in listing
    assert response.status_code == 200 and "succeeded" in html
    assert "<dd>3</dd>" in html and "<dd>0.5</dd>" in html  # epochs, learning rate multiplier
    # The curve: one point per logged step for each loss, the highest loss at the top.
    [train] = re.findall(r'<polyline class="train" points="([^"]+)"', html)
    [valid] = re.findall(r'<polyline class="valid" points="([^"]+)"', html)
    train_y = [float(p.split(",")[1]) for p in train.split()]
    valid_y = [float(p.split(",")[1]) for p in valid.split()]
    assert len(train_y) == len(valid_y) == 4
    assert train_y == sorted(train_y) and valid_y[0] == min(train_y + valid_y)  # falls, y down
    assert "training loss last 0.8000, validation loss last 1.8500" in html
    assert "Training started &lt;now&gt;" in html  # events, escaped
    assert model in html and "served now" in html
    assert "d" * 64 in html and "rank 8, alpha 16" in html  # lineage
    assert other.status_code == 404 and "No such fine-tuning job" in other.text
    assert model not in other.text and "polyline" not in other.text


def _scored_run(console: Console, tenant_id: str, digest: str, tamper: bool = False) -> str:
    body = {
        "format": "corral.eval-manifest/1",
        "corral_version": "test",
        "signed_at": "2026-12-04T10:00:00+00:00",
        "run": {"eval_id": "eval_x",
                "testing_criteria": [{"name": "exact", "type": "string_check"}]},
        "model": {"id": SERVED, "digest": digest},
        "dataset": {"file_id": "file-q", "sha256": "f" * 64, "items": 2},
        "items": [{"index": 0, "status": "pass"}, {"index": 1, "status": "fail"}],
        "scores": {"exact": {"n": 2, "pass_rate": 0.5, "pass_rate_ci95": [0.0, 1.0],
                             "mean_score": 0.5, "mean_score_ci95": [0.0, 1.0]}},
    }  # fmt: skip
    signed = SigningKey.load_or_create(console.home).sign(body)
    if tamper:
        signed["manifest"]["scores"]["exact"]["pass_rate"] = 1.0
    params = {"eval_id": "eval_x", "name": "greedy", "data_source": {"model": SERVED}}
    counts = {"total": 2, "passed": 1, "failed": 1, "errored": 0}
    result = {"manifest": signed, "result_counts": counts, "scores": body["scores"]}
    return _finished_job(console, EVAL_RUN, tenant_id, params, RUN_PREFIX, [], result)


def test_a_runs_attestation_verifies_and_says_whether_the_model_is_still_served(
    console: Console,
) -> None:
    acme, globex = console.tenants["acme"], console.tenants["globex"]
    current = _scored_run(console, acme.id, DIGEST)
    stale = _scored_run(console, acme.id, "0" * 64)
    forged = _scored_run(console, acme.id, DIGEST, tamper=True)

    with signed_in(console, acme.key) as client:
        listing = client.get("/console/evals").text
        pages = {
            run: client.get(f"/console/evals/runs/{run}").text for run in (current, stale, forged)
        }
        download = client.get(f"/console/evals/runs/{current}/manifest.json")
    with signed_in(console, globex.key) as client:
        other = client.get(f"/console/evals/runs/{current}")
        other_download = client.get(f"/console/evals/runs/{current}/manifest.json")

    assert f'href="/console/evals/runs/{current}"' in listing
    good = pages[current]
    assert '<span class="ok">verifies</span>' in good and DIGEST in good and "f" * 64 in good
    assert re.search(r'id="standing"><span class="ok">current</span>', good)
    assert "0.500" in good and "0.000\N{EN DASH}1.000" in good and "string_check" in good
    assert re.search(r'id="standing"><span class="error">stale</span>', pages[stale])
    assert "does not verify: the signature does not match" in pages[forged]
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    trusted = SigningKey.load_or_create(console.home).public_json()["public_key"]
    assert verify(download.json(), trusted) is None  # the download is the signed document
    assert other.status_code == 404 and other_download.status_code == 404
    assert "not found" in other.text
