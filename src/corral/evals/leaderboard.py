"""A dataset's leaderboard: the models its finished runs scored, ranked with their intervals.

One row per model: its newest finished run on the dataset (the dataset is known by its
SHA-256, so two uploads of the same file are one dataset). Rows are ordered by pass rate; a
model's `rank` is one more than the number of models whose whole 95 % interval lies above its
own, so models whose intervals overlap share a rank and are listed as tied: the data cannot
tell them apart. A row is `current` while the digest its manifest recorded is the digest of
the model served under that name now, `stale` once the weights, adapter or settings changed,
and `unknown` when the model is no longer served or its manifest has no digest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from corral.jobs import Job

Standing = Literal["current", "stale", "unknown"]


@dataclass(frozen=True, slots=True)
class Row:
    model: str
    digest: str | None
    standing: Standing
    pass_rate: float
    ci95: tuple[float, float]
    n: int
    eval_id: str
    run_id: str
    signed_at: str
    rank: int = 0
    tied_with: tuple[str, ...] = ()


def leaderboard(
    runs: Iterable[Job],
    dataset: str,
    served_digest: Callable[[str], str | None],
    criterion: str | None = None,
) -> list[Row]:
    """Rows for `dataset` (a SHA-256), ranked; `runs` newest first, as the job store lists
    them. `criterion`: whose pass rate ranks (default: each run's first)."""
    newest: dict[str, Row] = {}
    for job in runs:
        row = _row(job, dataset, served_digest, criterion)
        if row is not None and row.model not in newest:
            newest[row.model] = row
    return _ranked(list(newest.values()))


def _row(
    job: Job,
    dataset: str,
    served_digest: Callable[[str], str | None],
    criterion: str | None,
) -> Row | None:
    manifest = manifest_of(job)
    if manifest is None or (manifest.get("dataset") or {}).get("sha256") != dataset:
        return None
    scores: dict[str, Any] = manifest.get("scores") or {}
    name = criterion if criterion is not None else next(iter(scores), None)
    score = scores.get(name) if name is not None else None
    if not score or score.get("pass_rate") is None or not score.get("pass_rate_ci95"):
        return None
    model = manifest["model"]
    recorded = model.get("digest")
    low, high = score["pass_rate_ci95"]
    return Row(
        model=model["id"],
        digest=recorded,
        standing=standing(recorded, served_digest(model["id"])),
        pass_rate=float(score["pass_rate"]),
        ci95=(float(low), float(high)),
        n=int(score["n"]),
        eval_id=manifest["run"]["eval_id"],
        run_id=job.id,
        signed_at=manifest.get("signed_at", ""),
    )


def standing(recorded: str | None, served: str | None) -> Standing:
    """`current` while the model served under the name has the recorded digest, `stale` once
    it changed, `unknown` when it is no longer served or the manifest has no digest."""
    if recorded is None or served is None:
        return "unknown"
    return "current" if recorded == served else "stale"


def _ranked(rows: list[Row]) -> list[Row]:
    rows.sort(key=lambda r: (-r.pass_rate, r.model))
    ranks = [1 + sum(other.ci95[0] > row.ci95[1] for other in rows) for row in rows]
    out = []
    for row, rank in zip(rows, ranks, strict=True):
        tied = tuple(o.model for o, r in zip(rows, ranks, strict=True) if r == rank and o != row)
        out.append(Row(**{**_fields(row), "rank": rank, "tied_with": tied}))
    return out


def _fields(row: Row) -> dict[str, Any]:
    return {name: getattr(row, name) for name in Row.__slots__}


def manifest_of(job: Job) -> dict[str, Any] | None:
    """The signed manifest of a finished run; None for a run that did not succeed."""
    if job.status != "succeeded" or not isinstance(job.result, dict):
        return None
    signed = job.result.get("manifest") or {}
    manifest = signed.get("manifest")
    return manifest if isinstance(manifest, dict) else None
