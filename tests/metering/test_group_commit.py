"""Group commit: ledger writes that arrive together share one commit, and no write is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from corral.errors import StorageUnavailable
from corral.metering.batching import MAX_BATCH
from corral.metering.group_commit import GroupCommit, Write


class RecordingDatabase:
    """Commits by recording each batch; a write named `bad...` fails the batch it is in."""

    def __init__(self, down: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.calls = 0
        self.down = down
        self.committing = asyncio.Event()
        self.gate: asyncio.Event | None = None
        """When set by a test, commits wait for it to open."""

    async def commit(self, writes: Sequence[Write]) -> list[Any]:
        self.calls += 1
        self.committing.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)  # a round trip
        if self.down:
            raise StorageUnavailable("The database is unavailable: connection refused")
        names = [w.params["name"] for w in writes]
        if any(name.startswith("bad") for name in names):
            raise ValueError("duplicate key")
        self.batches.append(names)
        return [f"ok {w.params['name']}" for w in writes]


def settle(name: str, tenant: str = "t1") -> Write:
    return Write("settle", {"name": name, "tenant_id": tenant})


async def test_writes_that_arrive_together_share_one_commit() -> None:
    database = RecordingDatabase()
    group = GroupCommit(database.commit)

    results = await asyncio.gather(*(group.run(settle(f"w{i}")) for i in range(5)))

    assert results == [f"ok w{i}" for i in range(5)]
    assert database.batches == [["w0", "w1", "w2", "w3", "w4"]]


async def test_writes_made_during_a_commit_form_the_next_batch() -> None:
    database = RecordingDatabase()
    database.gate = asyncio.Event()
    group = GroupCommit(database.commit)
    first = asyncio.ensure_future(group.run(settle("early")))
    await database.committing.wait()

    late = [asyncio.ensure_future(group.run(settle(f"late{i}"))) for i in range(3)]
    await asyncio.sleep(0)
    database.gate.set()
    await asyncio.gather(first, *late)

    assert database.batches == [["early"], ["late0", "late1", "late2"]]


async def test_one_bad_write_fails_alone_and_the_others_are_committed() -> None:
    database = RecordingDatabase()
    group = GroupCommit(database.commit)

    outcomes = await asyncio.gather(
        group.run(settle("a")),
        group.run(settle("bad")),
        group.run(settle("b")),
        return_exceptions=True,
    )

    assert outcomes[0] == "ok a" and outcomes[2] == "ok b"
    assert isinstance(outcomes[1], ValueError)
    assert database.batches == [["a"], ["b"]]


async def test_a_database_that_is_down_fails_the_batch_at_once() -> None:
    database = RecordingDatabase(down=True)
    group = GroupCommit(database.commit)

    outcomes = await asyncio.gather(
        *(group.run(settle(f"w{i}")) for i in range(3)), return_exceptions=True
    )

    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert database.calls == 1  # not retried write by write against a database that is down


async def test_a_settlement_is_committed_even_when_its_request_is_cancelled() -> None:
    database = RecordingDatabase()
    group = GroupCommit(database.commit)
    request = asyncio.ensure_future(group.run(settle("usage")))
    await asyncio.sleep(0)

    request.cancel()
    await group.idle()

    assert request.cancelled()
    assert database.batches == [["usage"]]


async def test_batches_lock_rows_in_one_order_whatever_the_arrival() -> None:
    database = RecordingDatabase()
    group = GroupCommit(database.commit)

    await asyncio.gather(
        *(
            group.run(settle(name, tenant))
            for name, tenant in [
                ("for t2", "t2"),
                ("for t1", "t1"),
                ("for t3", "t3"),
            ]
        )
    )

    assert database.batches == [["for t1", "for t2", "for t3"]]


@pytest.mark.parametrize("size", [1, 200])
async def test_a_long_queue_is_committed_in_bounded_batches(size: int) -> None:
    database = RecordingDatabase()
    group = GroupCommit(database.commit)

    await asyncio.gather(*(group.run(settle(f"w{i:03d}")) for i in range(size)))

    assert sum(len(batch) for batch in database.batches) == size
    assert max(len(batch) for batch in database.batches) <= MAX_BATCH
