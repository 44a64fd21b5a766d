"""Group commit: the ledger writes that arrive together are committed together.

Settlements and budget-reservation changes (`reservations`) are queued (`batching`) and each
batch is one transaction (SQLite) or one round trip with one WAL flush (PostgreSQL).

A write's outcome never depends on its caller staying: a settlement whose request is cancelled
meanwhile is still committed (its usage must be billed). A batch that fails on its data is
retried one write at a time, so one bad write never takes the others down with it; a database
that cannot be reached fails the whole batch at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from corral.errors import Conflict, StorageUnavailable
from corral.metering.batching import Batcher

logger = logging.getLogger("corral.metering")

WriteKind = Literal[
    "settle", "grow_reservation", "end_reservation", "audit", "open_bill", "record_bill"
]


@dataclass(slots=True)
class Write:
    """One ledger write: a settlement (a usage record, its cost moved from its reservation to
    the month's spend, and its partner calls' audit rows, `params["audits"]`), a change to a
    reservation (`grow_reservation`: add to it; `end_reservation`: give it back), audit rows
    alone (`audit`), or a stream's write-ahead bill (`open_bill`, `metering.pending`) and its
    tokens so far (`record_bill`; the settlement of a stream deletes its bill,
    `params["bill_id"]`, in its own transaction)."""

    kind: WriteKind
    params: dict[str, Any]
    outcome: asyncio.Future[Any] = field(default_factory=lambda: _loop().create_future())

    def order(self) -> tuple[str, str, str, str]:
        """Writes run in this order within a batch, the same in every process, so that two
        batches touching the same tenants can never wait on each other in a cycle (PostgreSQL's
        batch statement for settlements orders its rows itself, in the same way)."""
        params = self.params
        return (
            params.get("tenant_id") or "",
            params.get("month") or "",
            params.get("model") or "",
            params.get("key_id") or "",
        )


Commit = Callable[[Sequence[Write]], Awaitable[list[Any]]]
"""Runs writes in one transaction and returns each one's result, in order."""


class GroupCommit:
    def __init__(self, commit: Commit) -> None:
        self._commit = commit
        self._batches = Batcher(self._commit_batch)

    async def run(self, write: Write) -> Any:
        """Queue `write` and wait until it is committed; returns its result."""
        return await self.submit(write)

    def submit(self, write: Write) -> asyncio.Future[Any]:
        """Queue `write`; its outcome is set once it is committed."""
        return self._batches.submit(write)

    async def idle(self) -> None:
        """Wait until everything queued so far is committed (or has failed)."""
        await self._batches.idle()

    async def _commit_batch(self, batch: list[Write]) -> None:
        batch = sorted(batch, key=Write.order)
        try:
            results = await self._commit(batch)
        except StorageUnavailable as exc:
            for write in batch:
                _fail(write, exc)
            return
        except Exception as exc:
            if len(batch) == 1 and _reused_request_id(batch[0], exc):
                await self._commit_batch([_renamed(batch[0])])
                return
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            logger.warning("a ledger batch failed; committing its writes one by one", exc_info=True)
            for write in batch:
                await self._commit_batch([write])
            return
        for write, result in zip(batch, results, strict=True):
            _succeed(write, result)


def _reused_request_id(write: Write, exc: Exception) -> bool:
    """A usage record whose request id is already in the ledger: a client sent the same
    `X-Request-ID` twice. Its usage is billed all the same (see `_renamed`)."""
    if not (isinstance(exc, Conflict) and write.kind == "settle"):
        return False
    return "#" not in write.params["request_id"]  # renamed once already: something else


def _renamed(write: Write) -> Write:
    request_id = f"{write.params['request_id'][:55]}#{secrets.token_hex(4)}"  # fits 64
    logger.warning(
        "a request id was used twice; its usage is recorded under a derived id",
        extra={"recorded_as": request_id},
    )
    write.params = {**write.params, "request_id": request_id}
    return write


def _succeed(write: Write, result: Any) -> None:
    if not write.outcome.done():
        write.outcome.set_result(result)


def _fail(write: Write, exc: Exception) -> None:
    if not write.outcome.done():
        write.outcome.set_exception(exc)
    elif write.kind == "settle":  # nobody will see it: the log must
        logger.error("a usage record could not be written", exc_info=exc)


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
