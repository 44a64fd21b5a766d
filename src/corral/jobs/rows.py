"""The jobs table's rows and the statements every job write shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, update
from sqlalchemy.orm import Session

from corral.jobs.model import FINISHED, Claim, Entry, Job, Progress
from corral.storage.tables import Job as JobRow
from corral.storage.tables import JobEvent as JobEventRow


def held_by(claim: Claim) -> ColumnElement[bool]:
    return and_(
        JobRow.id == claim.job_id,
        JobRow.worker_id == claim.worker_id,
        JobRow.attempts == claim.attempt,
        JobRow.status.not_in(FINISHED),
    )


def update_job(
    session: Session,
    where: ColumnElement[bool],
    events: Sequence[Entry],
    now: dt.datetime,
    **values: Any,
) -> int | None:
    """Update the job matching `where` and append `events` to its log; the job's new event
    count, or None if no job matched (nothing is written then)."""
    statement = (
        update(JobRow)
        .where(where)
        .values(event_count=JobRow.event_count + len(events), **values)
        .returning(JobRow.id, JobRow.event_count)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    job_id, count = row
    insert_events(session, job_id, count, events, now)
    return int(count)


def insert_events(
    session: Session, job_id: str, last_seq: int, events: Sequence[Entry], now: dt.datetime
) -> None:
    first = last_seq - len(events) + 1
    for seq, entry in enumerate(events, start=first):
        session.add(
            JobEventRow(
                job_id=job_id,
                seq=seq,
                created_at=now,
                level=entry.level,
                message=entry.message,
                data=entry.data,
            )
        )


def to_job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        tenant_id=row.tenant_id,
        status=row.status,
        params=row.params,
        progress=Progress.from_json(row.progress),
        checkpoint=row.checkpoint,
        result=row.result,
        error=row.error,
        cancel_requested=row.cancel_requested,
        attempts=row.attempts,
        worker_id=row.worker_id,
        lease_expires_at=row.lease_expires_at,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
