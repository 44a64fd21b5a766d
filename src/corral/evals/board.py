"""A tenant's leaderboard as the API (`GET /v1/evals/leaderboard`) and the console show it: the
dataset named by its SHA-256 or a file id, the owner's newest finished runs ranked on it
(`leaderboard`), and where its items went (`exposure`). Also the datasets the owner's
finished runs scored, for the console to pick one from."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from corral.catalog.catalog import Catalog
from corral.errors import NotFound
from corral.evals.exposure import exposure
from corral.evals.leaderboard import Row, leaderboard, manifest_of
from corral.evals.runner import KIND
from corral.files.store import FileStore
from corral.jobs import Job, JobQueue

RUNS_SCANNED = 1000
"""The board is made from the owner's newest eval runs (jobs), up to this many."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Board:
    dataset: str
    """The dataset's SHA-256."""
    criterion: str | None
    rows: list[Row]
    exposure: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Scored:
    """A dataset the owner's finished runs scored: its SHA-256, the file of its newest run (None
    for inline items and suites), and how many finished runs."""

    sha256: str
    file_id: str | None
    runs: int


async def board(
    jobs: JobQueue,
    files: FileStore,
    catalog: Catalog,
    owner: str,
    dataset: str,
    criterion: str | None = None,
) -> Board:
    """`owner`'s board of `dataset`; a file id that is not the owner's is NotFound."""
    sha = dataset
    if not _SHA256.fullmatch(dataset):
        sha = (await files.get(owner, dataset)).sha256
    runs = await jobs.list_jobs(owner, kind=KIND, limit=RUNS_SCANNED)
    rows = leaderboard(runs, sha, served_digest(catalog), criterion)
    return Board(sha, criterion, rows, exposure(runs, sha))


async def scored_datasets(jobs: JobQueue, owner: str) -> list[Scored]:
    """The datasets of `owner`'s finished runs, the most recently scored first."""
    return scored(await jobs.list_jobs(owner, kind=KIND, limit=RUNS_SCANNED))


def scored(runs: Iterable[Job]) -> list[Scored]:
    found: dict[str, Scored] = {}
    for job in runs:
        dataset = (manifest_of(job) or {}).get("dataset") or {}
        sha = dataset.get("sha256")
        if not isinstance(sha, str):
            continue
        seen = found.get(sha)
        file_id = seen.file_id if seen else dataset.get("file_id")
        found[sha] = Scored(sha, file_id, (seen.runs if seen else 0) + 1)
    return list(found.values())


def served_digest(catalog: Catalog) -> Callable[[str], str | None]:
    """The digest of the model served under a name now; None when none is."""

    def digest(model_id: str) -> str | None:
        try:
            return catalog.get(model_id).digest
        except NotFound:
            return None

    return digest
