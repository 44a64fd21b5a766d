"""The job queue: owners submit, read and cancel; workers claim, checkpoint and finish."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.errors import NotFound
from corral.jobs import Claim, Entry, JobQueue, LeaseLost, Progress
from corral.storage import Database
from corral.storage.tables import Job as JobRow
from corral.storage.tables import UsageRecord

LEASE_S = 1.0
"""Long enough for a few writes under a loaded machine, short enough to wait out."""


async def test_a_submitted_job_is_queued_and_only_its_owner_sees_it(queue: JobQueue) -> None:
    job = await queue.submit("sleep", "ten_a", {"steps": 3}, id_prefix="ftjob_", total=3)

    assert job.id.startswith("ftjob_")
    assert (job.status, job.attempts, job.progress) == ("queued", 0, Progress(0, 3))
    assert (await queue.get(job.id, "ten_a")).params == {"steps": 3}
    with pytest.raises(NotFound):
        await queue.get(job.id, "ten_b")
    assert await queue.list_jobs("ten_b") == []


async def test_jobs_are_listed_newest_first_a_page_at_a_time(queue: JobQueue) -> None:
    ids = [(await queue.submit("sleep", "ten_a", {})).id for _ in range(5)]

    first = await queue.list_jobs("ten_a", limit=2)
    rest = await queue.list_jobs("ten_a", after=first[-1].id)

    assert [job.id for job in first + rest] == ids[::-1]


async def test_competing_claims_take_each_job_once(queue: JobQueue) -> None:
    submitted = {(await queue.submit("sleep", "ten_a", {})).id for _ in range(6)}

    claims = await asyncio.gather(
        *(queue.claim_next(f"w{i % 2}", ["sleep"], 30) for i in range(10))
    )

    claimed = [job.id for job in claims if job is not None]
    assert sorted(claimed) == sorted(submitted)
    assert all(job.status == "running" and job.attempts == 1 for job in claims if job)


async def test_only_the_kinds_asked_for_are_claimed(queue: JobQueue) -> None:
    await queue.submit("eval_run", "ten_a", {})

    assert await queue.claim_next("w", ["sleep"], 30) is None
    assert await queue.claim_next("w", [], 30) is None


async def test_an_expired_lease_frees_the_job_and_fences_off_its_old_worker(
    queue: JobQueue,
) -> None:
    await queue.submit("sleep", "ten_a", {})
    first = await queue.claim_next("w1", ["sleep"], LEASE_S)
    assert first is not None
    old = Claim(first.id, "w1", first.attempts)
    await queue.save_checkpoint(old, {"step": 2}, Progress(2, 5))
    assert await queue.claim_next("w2", ["sleep"], LEASE_S) is None  # still held

    await asyncio.sleep(LEASE_S + 0.1)
    second = await queue.claim_next("w2", ["sleep"], 30)

    assert second is not None
    assert (second.id, second.attempts, second.checkpoint) == (first.id, 2, {"step": 2})
    assert second.progress == Progress(2, 5)
    with pytest.raises(LeaseLost):
        await queue.save_checkpoint(old, {"step": 3})
    with pytest.raises(LeaseLost):
        await queue.heartbeat(old, 30)


async def test_cancelling_a_job_nobody_holds_ends_it_at_once(queue: JobQueue) -> None:
    job = await queue.submit("sleep", "ten_a", {})

    cancelled = await queue.request_cancel(job.id, "ten_a")

    assert cancelled.status == "cancelled"
    assert cancelled.finished_at is not None
    assert await queue.claim_next("w", ["sleep"], 30) is None


async def test_cancelling_a_held_job_asks_its_worker(queue: JobQueue) -> None:
    job = await queue.submit("sleep", "ten_a", {})
    held = await queue.claim_next("w", ["sleep"], 30)
    assert held is not None
    claim = Claim(job.id, "w", held.attempts)
    assert await queue.heartbeat(claim, 30) is False

    asked = await queue.request_cancel(job.id)

    assert (asked.status, asked.cancel_requested) == ("running", True)
    assert await queue.heartbeat(claim, 30) is True


async def test_a_finished_job_stays_finished(queue: JobQueue) -> None:
    job = await queue.submit("sleep", "ten_a", {})
    held = await queue.claim_next("w", ["sleep"], 30)
    assert held is not None
    await queue.finish(Claim(job.id, "w", 1), "succeeded", result={"ok": True})

    after = await queue.request_cancel(job.id)

    assert (after.status, after.result, after.worker_id) == ("succeeded", {"ok": True}, None)
    with pytest.raises(LeaseLost):
        await queue.finish(Claim(job.id, "w", 1), "failed")


async def test_a_given_back_job_is_queued_again_with_its_checkpoint(queue: JobQueue) -> None:
    job = await queue.submit("sleep", "ten_a", {})
    await queue.claim_next("w1", ["sleep"], 30)
    await queue.save_checkpoint(Claim(job.id, "w1", 1), {"step": 1})

    await queue.release(Claim(job.id, "w1", 1))
    again = await queue.claim_next("w2", ["sleep"], 30)

    assert again is not None
    assert (again.id, again.attempts, again.checkpoint) == (job.id, 2, {"step": 1})


async def test_a_kind_may_start_in_its_own_state(queue: JobQueue) -> None:
    job = await queue.submit("fine_tuning", "ten_a", {}, status="validating_files")
    held = await queue.claim_next("w", ["fine_tuning"], 30)
    assert held is not None and held.status == "validating_files"

    await queue.update(Claim(job.id, "w", 1), [Entry("Files validated")], status="running")

    assert (await queue.get(job.id)).status == "running"


async def test_events_come_back_in_the_order_they_happened(queue: JobQueue) -> None:
    job = await queue.submit("sleep", "ten_a", {})
    await queue.claim_next("w", ["sleep"], 30)
    claim = Claim(job.id, "w", 1)
    await queue.save_checkpoint(claim, {}, events=[Entry("one"), Entry("two", {"n": 2})])
    await queue.request_cancel(job.id)
    await queue.finish(claim, "cancelled", events=[Entry("Job cancelled")])

    events = await queue.events(job.id, "ten_a")

    assert [event.message for event in events] == [
        "Job created",
        "Job started",
        "one",
        "two",
        "Cancellation requested",
        "Job cancelled",
    ]
    assert [event.seq for event in events] == [1, 2, 3, 4, 5, 6]
    assert events[3].data == {"n": 2}
    later = await queue.events(job.id, after=4)
    assert [event.seq for event in later] == [5, 6]


async def test_a_checkpoints_own_writes_commit_with_it_and_only_with_it(
    queue: JobQueue, db: Database
) -> None:
    job = await queue.submit("sleep", "ten_a", {})
    await queue.claim_next("w1", ["sleep"], LEASE_S)
    stale = Claim(job.id, "w1", 1)
    await queue.save_checkpoint(stale, {"item": 1}, write=bill("item-1"))
    await asyncio.sleep(LEASE_S + 0.1)
    await queue.claim_next("w2", ["sleep"], 30)

    with pytest.raises(LeaseLost):
        await queue.save_checkpoint(stale, {"item": 2}, write=bill("item-2"))

    with db.read() as session:
        billed = session.scalars(select(UsageRecord.request_id)).all()
    assert billed == [f"{job.id}/item-1"]
    assert (await queue.get(job.id)).checkpoint == {"item": 1}


def bill(item: str) -> Callable[[Session], None]:
    """A ledger row for one item of a job, as a job kind would settle it at a checkpoint."""

    def write(session: Session) -> None:
        job_id = session.scalars(select(JobRow.id)).one()
        now = dt.datetime.now(dt.UTC)
        session.add(
            UsageRecord(
                request_id=f"{job_id}/{item}",
                tenant_id="ten_a",
                key_id="key_a",
                model="m",
                tier="standard",
                prompt_tokens=1,
                completion_tokens=1,
                input_price_micros=1,
                output_price_micros=1,
                cost_micros=1,
                outcome="completed",
                started_at=now,
                ended_at=now,
            )
        )

    return write
