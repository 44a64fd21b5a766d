"""The job queue in the database: submit, read, cancel, and the worker's side of a claim.

A job is claimable while it is not finished and nobody holds it: never claimed, given back, or
held by a worker whose lease has expired (a dead worker's job is resumed from its checkpoint).
A claim is one statement: `UPDATE ... WHERE id = (SELECT ... LIMIT 1)`, its subquery `FOR
UPDATE SKIP LOCKED` on PostgreSQL, so competing workers on several machines take different
jobs without waiting on each other; on SQLite the statement runs under the database's single
write lock. Every later write of the claim's worker (heartbeat, checkpoint, end) names the
claim (`Claim`: worker and attempt) and changes nothing once the job has been claimed again
or has ended: a stalled worker that lost its lease cannot overwrite its successor.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from corral.errors import NotFound
from corral.jobs.model import (
    CANCELLED,
    FINISHED,
    QUEUED,
    RUNNING,
    Claim,
    Entry,
    Event,
    Job,
    Progress,
)
from corral.jobs.rows import held_by, insert_events, to_job, update_job
from corral.storage import Database
from corral.storage.tables import Job as JobRow
from corral.storage.tables import JobEvent as JobEventRow

Write = Callable[[Session], None]
"""More writes for a checkpoint's own transaction (say, the ledger rows of the items it
settles), so that they happen exactly once with it."""


class LeaseLost(Exception):
    """The job is no longer this claim's: it was claimed again after the lease expired, or
    it has ended (cancelled while nobody was holding it). The claim's worker stops quietly."""


def new_id(prefix: str = "job_") -> str:
    return f"{prefix}{secrets.token_hex(12)}"


def not_found(job_id: str) -> NotFound:
    return NotFound(f"Job with id '{job_id}' not found.", param="job_id")


class JobQueue:
    """Every owner-facing read and write may name the owner (a tenant id, or 'admin'):
    nobody sees another's jobs. The worker's calls name their `Claim` instead."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # The owner's side

    async def submit(
        self,
        kind: str,
        tenant_id: str,
        params: dict[str, Any],
        *,
        status: str = QUEUED,
        id_prefix: str = "job_",
        total: int | None = None,
        job_id: str | None = None,
    ) -> Job:
        """Queue a job. `status` may be a kind's own state before running (validating_files):
        the job is claimable in it too, and its handler moves it on (`JobContext.set_status`).
        `job_id`: one drawn beforehand (`new_id`), for what is keyed by it before it exists."""
        if status in FINISHED or status == RUNNING:
            raise ValueError(f"a job cannot be submitted as {status}")
        now = _now()
        row = JobRow(
            id=job_id or new_id(id_prefix),
            kind=kind,
            tenant_id=tenant_id,
            status=status,
            params=params,
            progress=Progress(total=total).to_json(),
            cancel_requested=False,
            attempts=0,
            event_count=1,
            created_at=now,
        )
        return await self._db.run(self._insert, row)

    def _insert(self, row: JobRow) -> Job:
        with self._db.write() as session:
            session.add(row)
            session.flush()
            insert_events(session, row.id, 1, [Entry("Job created")], row.created_at)
            return to_job(row)

    async def get(self, job_id: str, tenant_id: str | None = None) -> Job:
        job = await self._db.run(self._get, job_id)
        if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
            raise not_found(job_id)
        return job

    def _get(self, job_id: str) -> Job | None:
        with self._db.read() as session:
            row = session.get(JobRow, job_id)
            return None if row is None else to_job(row)

    async def list_jobs(
        self, tenant_id: str, *, kind: str | None = None, after: str | None = None, limit: int = 20
    ) -> list[Job]:
        """The owner's jobs, newest first; `after` is the last job id of the previous page."""
        return await self._db.run(self._list_jobs, tenant_id, kind, after, limit)

    def _list_jobs(
        self, tenant_id: str, kind: str | None, after: str | None, limit: int
    ) -> list[Job]:
        query = select(JobRow).where(JobRow.tenant_id == tenant_id)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        with self._db.read() as session:
            if after is not None:
                cursor = session.get(JobRow, after)
                if cursor is None or cursor.tenant_id != tenant_id:
                    raise not_found(after)
                query = query.where(
                    or_(
                        JobRow.created_at < cursor.created_at,
                        and_(JobRow.created_at == cursor.created_at, JobRow.id < cursor.id),
                    )
                )
            query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit)
            return [to_job(row) for row in session.scalars(query)]

    async def events(
        self, job_id: str, tenant_id: str | None = None, *, after: int = 0, limit: int = 100
    ) -> list[Event]:
        """The job's events in the order they happened, from the one after `after` (a seq)."""
        await self.get(job_id, tenant_id)
        return await self._db.run(self._events, job_id, after, limit)

    def _events(self, job_id: str, after: int, limit: int) -> list[Event]:
        query = (
            select(JobEventRow)
            .where(JobEventRow.job_id == job_id, JobEventRow.seq > after)
            .order_by(JobEventRow.seq)
            .limit(limit)
        )
        with self._db.read() as session:
            return [
                Event(row.seq, row.created_at, row.level, row.message, row.data)
                for row in session.scalars(query)
            ]

    async def request_cancel(self, job_id: str, tenant_id: str | None = None) -> Job:
        """Cancel a job: at once if nobody holds it, else by asking its worker (who notices
        at its next heartbeat). A finished job stays as it is."""
        await self.get(job_id, tenant_id)
        return await self._db.run(self._cancel, job_id)

    def _cancel(self, job_id: str) -> Job:
        now = _now()
        unfinished = and_(JobRow.id == job_id, JobRow.status.not_in(FINISHED))
        unheld = or_(JobRow.worker_id.is_(None), JobRow.lease_expires_at < now)
        with self._db.write() as session:
            ended = update_job(
                session,
                and_(unfinished, unheld),
                [Entry("Job cancelled")],
                now,
                status=CANCELLED,
                cancel_requested=True,
                finished_at=now,
                worker_id=None,
                lease_expires_at=None,
            )
            if ended is None:
                update_job(
                    session,
                    unfinished,
                    [Entry("Cancellation requested")],
                    now,
                    cancel_requested=True,
                )
            row = session.get(JobRow, job_id, populate_existing=True)
            assert row is not None
            return to_job(row)

    # The worker's side

    async def claim_next(self, worker_id: str, kinds: Sequence[str], lease_s: float) -> Job | None:
        """Claim the oldest claimable job of `kinds` for `lease_s` seconds, or None."""
        if not kinds:
            return None
        return await self._db.run(self._claim, worker_id, list(kinds), lease_s)

    def _claim(self, worker_id: str, kinds: list[str], lease_s: float) -> Job | None:
        now = _now()
        pick = (
            select(JobRow.id)
            .where(
                JobRow.kind.in_(kinds),
                JobRow.status.not_in(FINISHED),
                or_(JobRow.worker_id.is_(None), JobRow.lease_expires_at < now),
            )
            .order_by(JobRow.created_at, JobRow.id)
            .limit(1)
        )
        with self._db.read() as session:
            # An idle worker polls: a read takes no lock, where the claim's write would take
            # SQLite's one write lock every poll, from every server of a test run.
            if session.scalar(pick) is None:
                return None
        if self._db.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        claim = (
            update(JobRow)
            .where(JobRow.id == pick.scalar_subquery())
            .values(
                worker_id=worker_id,
                lease_expires_at=now + dt.timedelta(seconds=lease_s),
                attempts=JobRow.attempts + 1,
                status=case((JobRow.status == QUEUED, RUNNING), else_=JobRow.status),
                started_at=func.coalesce(JobRow.started_at, now),
                event_count=JobRow.event_count + 1,
            )
            .returning(JobRow)
            .execution_options(synchronize_session=False)
        )
        with self._db.write() as session:
            row = session.scalars(claim).first()
            if row is None:
                return None
            message = "Job started" if row.attempts == 1 else "Job resumed from its checkpoint"
            entry = Entry(message, {"attempt": row.attempts, "worker": worker_id})
            insert_events(session, row.id, row.event_count, [entry], now)
            return to_job(row)

    async def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        """Extend the claim's lease; whether the job's cancellation has been requested."""
        cancel = await self._db.run(self._heartbeat, claim, lease_s)
        if cancel is None:
            raise LeaseLost(claim.job_id)
        return cancel

    def _heartbeat(self, claim: Claim, lease_s: float) -> bool | None:
        # Lost is an answer, not an exception: a beat cut short by the job's end is never
        # awaited, and its exception would be logged as never retrieved.
        expires = _now() + dt.timedelta(seconds=lease_s)
        statement = (
            update(JobRow)
            .where(held_by(claim))
            .values(lease_expires_at=expires)
            .returning(JobRow.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        with self._db.write() as session:
            cancel = session.execute(statement).scalar()
        return None if cancel is None else bool(cancel)

    async def save_checkpoint(
        self,
        claim: Claim,
        state: dict[str, Any],
        progress: Progress | None = None,
        events: Iterable[Entry] = (),
        write: Write | None = None,
    ) -> None:
        """Save the handler's state, with its progress, events and `write`, in one transaction."""
        await self._db.run(self._checkpoint, claim, state, progress, list(events), write)

    def _checkpoint(
        self,
        claim: Claim,
        state: dict[str, Any],
        progress: Progress | None,
        events: list[Entry],
        write: Write | None,
    ) -> None:
        values: dict[str, Any] = {"checkpoint": state}
        if progress is not None:
            values["progress"] = progress.to_json()
        with self._db.write() as session:
            if update_job(session, held_by(claim), events, _now(), **values) is None:
                raise LeaseLost(claim.job_id)
            if write is not None:
                write(session)

    async def update(
        self,
        claim: Claim,
        events: Iterable[Entry] = (),
        *,
        progress: Progress | None = None,
        status: str | None = None,
    ) -> None:
        """Append events, and set the progress or the (unfinished) status, without a checkpoint."""
        values: dict[str, Any] = {}
        if progress is not None:
            values["progress"] = progress.to_json()
        if status is not None:
            if status in FINISHED:
                raise ValueError("a job ends through `finish`")
            values["status"] = status
        await self._db.run(self._fenced_update, claim, list(events), values)

    def _fenced_update(self, claim: Claim, events: list[Entry], values: dict[str, Any]) -> None:
        with self._db.write() as session:
            if update_job(session, held_by(claim), events, _now(), **values) is None:
                raise LeaseLost(claim.job_id)

    async def finish(
        self,
        claim: Claim,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        events: Iterable[Entry] = (),
    ) -> None:
        """End the claim's job as succeeded, failed or cancelled."""
        if status not in FINISHED:
            raise ValueError(f"{status} is not an end")
        now = _now()
        values = {"status": status, "result": result, "error": error, "finished_at": now}
        values |= {"worker_id": None, "lease_expires_at": None}
        await self._db.run(self._fenced_update, claim, list(events), values)

    async def release(self, claim: Claim, events: Iterable[Entry] = ()) -> None:
        """Give the job back, claimable at once by any worker, its checkpoint kept."""
        values: dict[str, Any] = {"worker_id": None, "lease_expires_at": None}
        values["status"] = case((JobRow.status == RUNNING, QUEUED), else_=JobRow.status)
        await self._db.run(self._fenced_update, claim, list(events), values)

    def counts(self) -> dict[tuple[str, str], int]:
        """Unfinished jobs by (kind, status); blocking (read at a metrics scrape)."""
        query = (
            select(JobRow.kind, JobRow.status, func.count())
            .where(JobRow.status.not_in(FINISHED))
            .group_by(JobRow.kind, JobRow.status)
        )
        with self._db.read() as session:
            return {(kind, status): count for kind, status, count in session.execute(query)}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
