"""What a job is, as its owner, its handler and the worker see it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
"""A job in one of these states never runs again."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a job has come: `done` of `total` items (None while unknown), and whatever
    else its kind reports (a running score, the last loss)."""

    done: int = 0
    total: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "extra": self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Progress:
        data = data or {}
        return cls(int(data.get("done", 0)), data.get("total"), dict(data.get("extra") or {}))


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    tenant_id: str
    status: str
    params: dict[str, Any]
    progress: Progress
    checkpoint: dict[str, Any] | None
    """The handler's state at its last checkpoint; None before the first."""
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    """{"code", "message"} once failed."""
    cancel_requested: bool
    attempts: int
    """1 on the first claim; more once a worker died or gave the job back."""
    worker_id: str | None
    lease_expires_at: dt.datetime | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def eta_seconds(self, now: dt.datetime) -> float | None:
        """Seconds left at the pace since the job started; None while that is unknown."""
        done, total = self.progress.done, self.progress.total
        if self.finished or self.started_at is None or not done or total is None:
            return None
        elapsed = (now - self.started_at).total_seconds()
        return max(0.0, elapsed * (total - done) / done)


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    created_at: dt.datetime
    level: str
    """info | warn | error"""
    message: str
    data: dict[str, Any] | None = None


class Entry(NamedTuple):
    """An event to append to a job's log."""

    message: str
    data: dict[str, Any] | None = None
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Claim:
    job_id: str
    worker_id: str
    attempt: int
