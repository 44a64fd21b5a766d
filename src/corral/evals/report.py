"""A finished run's figures (OpenAI's `result_counts` and `per_testing_criteria_results`, with
corral's scores and 95 % confidence intervals) and the manifest body they are signed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from corral import __version__
from corral.evals.manifest import FORMAT, digest
from corral.evals.stats import bootstrap_ci, mean
from corral.evals.store import OutputItem


def result_counts(items: Sequence[OutputItem], total: int) -> dict[str, int]:
    counts = {"total": total, "passed": 0, "failed": 0, "errored": 0}
    for item in items:
        counts[{"pass": "passed", "fail": "failed"}.get(item.status, "errored")] += 1
    return counts


def per_criterion(items: Sequence[OutputItem], names: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        grades = [g for item in items for g in item.results if g["name"] == name]
        passed = sum(1 for g in grades if g["passed"])
        out.append({"testing_criteria": name, "passed": passed, "failed": len(grades) - passed})
    return out


def scores(items: Sequence[OutputItem], names: Sequence[str], seed: int) -> dict[str, Any]:
    """Per criterion: pass rate and mean score over the graded items, each with its 95 %
    bootstrap interval (seeded); multiple choice adds the length-normalised accuracy."""
    out: dict[str, Any] = {}
    for name in names:
        grades = [g for item in items for g in item.results if g["name"] == name]
        passes = [1.0 if g["passed"] else 0.0 for g in grades]
        values = [float(g["score"]) for g in grades]
        entry: dict[str, Any] = {
            "n": len(grades),
            "pass_rate": mean(passes),
            "pass_rate_ci95": bootstrap_ci(passes, seed),
            "mean_score": mean(values),
            "mean_score_ci95": bootstrap_ci(values, seed),
        }
        norm = [
            1.0 if g["detail"]["chosen_norm"] == g["detail"]["answer"] else 0.0
            for g in grades
            if g["type"] == "multiple_choice"
        ]
        if norm:
            entry["acc_norm"] = mean(norm)
            entry["acc_norm_ci95"] = bootstrap_ci(norm, seed)
        out[name] = entry
    return out


def manifest_body(
    run: dict[str, Any],
    model: dict[str, Any],
    dataset: dict[str, Any],
    items: Sequence[OutputItem],
    figures: dict[str, Any],
) -> dict[str, Any]:
    """Everything a reader needs to judge a score: the model as configured, how it was asked,
    on what data, graded how, and a digest of every item's output."""
    return {
        "format": FORMAT,
        "corral_version": __version__,
        "signed_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "run": run,
        "model": model,
        "dataset": dataset,
        "items": [
            {"index": i.index, "status": i.status, "output_sha256": output_digest(i)} for i in items
        ],
        **figures,
    }


def output_digest(item: OutputItem) -> str:
    """What the model produced for the item: its text, and the option log-probs of
    multiple-choice grades (what a rerun must reproduce to count as the same)."""
    text = (item.sample or {}).get("output_text")
    return digest({"output_text": text, "scored": [g.get("detail") for g in item.results]})
