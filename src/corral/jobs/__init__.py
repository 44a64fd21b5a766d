"""The job runner: work that outlives a request (fine-tuning jobs, evaluation runs).

A job is queued in the database (`JobQueue`), claimed by a `Worker` (in `corral serve`, or a
`corral worker` process on any machine sharing the database) and run by its kind's
`JobHandler`, which checkpoints as it goes: a job whose worker died is resumed from its last
checkpoint, and a cancelled job stops within a heartbeat. See docs/jobs.md.
"""

from __future__ import annotations

from corral.jobs.context import JobContext, JobHandler
from corral.jobs.model import (
    CANCELLED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Claim,
    Entry,
    Event,
    Job,
    Progress,
)
from corral.jobs.store import JobQueue, LeaseLost
from corral.jobs.worker import Worker

__all__ = [
    "CANCELLED",
    "FAILED",
    "FINISHED",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "Claim",
    "Entry",
    "Event",
    "Job",
    "JobContext",
    "JobHandler",
    "JobQueue",
    "LeaseLost",
    "Progress",
    "Worker",
]


def builtin_handlers() -> dict[str, JobHandler]:
    """The job kinds every worker runs whatever else it is given: `sleep`, for diagnostics."""
    from corral.jobs.sleep import KIND, SleepHandler

    return {KIND: SleepHandler()}
