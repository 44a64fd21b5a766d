"""A dataset's leaderboard: one row per model, ranked, ties where the intervals overlap, and a
score marked stale once the model served under its name is no longer the one scored."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from corral.evals.exposure import exposure
from corral.evals.leaderboard import leaderboard
from corral.jobs import Job
from corral.jobs.model import Progress

DATASET = "d" * 64
NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
_ids = itertools.count()


def run(
    model: str,
    rate: float,
    ci: tuple[float, float],
    digest: str | None = "sha256:a",
    dataset: str = DATASET,
    status: str = "succeeded",
) -> Job:
    manifest: dict[str, Any] = {
        "model": {"id": model, "digest": digest},
        "dataset": {"sha256": dataset},
        "run": {"eval_id": "eval_1"},
        "signed_at": "2026-12-04T00:00:00+00:00",
        "scores": {"exact": {"n": 50, "pass_rate": rate, "pass_rate_ci95": list(ci)}},
    }
    return Job(
        f"evalrun_{next(_ids)}",
        "eval_run",
        "acme",
        status,
        {},
        Progress(50, 50, {}),
        None,
        {"manifest": {"manifest": manifest}},
        None,
        False,
        1,
        None,
        None,
        NOW,
        NOW,
        NOW,
    )


def served(digests: dict[str, str]) -> Any:
    return lambda model: digests.get(model)


def test_models_whose_intervals_overlap_share_a_rank() -> None:
    runs = [
        run("big", 0.80, (0.70, 0.90)),
        run("mid", 0.74, (0.62, 0.84)),
        run("small", 0.30, (0.18, 0.42)),
    ]

    rows = leaderboard(runs, DATASET, served({"big": "sha256:a", "mid": "sha256:a"}))

    assert [(r.model, r.rank) for r in rows] == [("big", 1), ("mid", 1), ("small", 3)]
    assert rows[0].tied_with == ("mid",) and rows[2].tied_with == ()


def test_a_model_keeps_its_newest_run_and_other_datasets_stay_off() -> None:
    runs = [  # newest first, as the job store lists them
        run("big", 0.60, (0.5, 0.7)),
        run("big", 0.90, (0.8, 1.0)),
        run("other", 0.99, (0.9, 1.0), dataset="e" * 64),
        run("failed", 1.0, (1.0, 1.0), status="failed"),
    ]

    [row] = leaderboard(runs, DATASET, served({}))

    assert (row.model, row.pass_rate) == ("big", 0.60)


def test_a_score_turns_stale_when_the_served_model_changes() -> None:
    runs = [run("a", 0.5, (0.4, 0.6)), run("b", 0.5, (0.4, 0.6)), run("c", 0.5, (0.4, 0.6), None)]

    rows = leaderboard(runs, DATASET, served({"a": "sha256:a", "b": "sha256:new"}))

    assert {r.model: r.standing for r in rows} == {"a": "current", "b": "stale", "c": "unknown"}


def test_a_dataset_sent_to_partners_lists_each_provider_once_with_its_items() -> None:
    runs = [run("gpt", 0.5, (0.4, 0.6)), run("gpt", 0.6, (0.5, 0.7)), run("local", 0.5, (0.4, 0.6))]
    for job, backend in zip(runs, ("openai", "openai", "llama-cpp"), strict=True):
        manifest = job.result["manifest"]["manifest"]  # type: ignore[index]
        manifest["model"] |= {"backend": backend, "upstream": "gpt-4o-mini"}
        manifest["items"] = [{"status": "pass"}] * 50 + [{"status": "error"}]

    [sent] = exposure(runs, DATASET)

    assert (sent["provider"], sent["upstream"], sent["runs"], sent["items"]) == (
        "openai",
        "gpt-4o-mini",
        2,
        100,
    )
