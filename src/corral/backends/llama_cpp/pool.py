"""A fixed set of model instances shared by requests, with a bounded wait queue.

A `Llama` object serves one generation at a time, so each request leases a whole instance.
When every instance is busy, requests wait; when the queue is full the request is refused at
once with `Overloaded` (HTTP 503 with `Retry-After`) instead of piling up. Waiters are served
in turn by party (the tenant asking), first come first served within a party: a tenant that
queues many calls at once (a task's chunks, a burst) delays another tenant's call by at most
one generation per instance, not by its whole backlog. With `max_per_party`, a party never
holds more instances than that at once, so the others stay free for other parties.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from corral.errors import Overloaded

T = TypeVar("T")


class InstancePool(Generic[T]):
    def __init__(
        self,
        name: str,
        load: Callable[[], Awaitable[T]],
        size: int,
        queue_size: int,
        max_per_party: int | None = None,
    ) -> None:
        self.name = name
        self._cap = max_per_party or size
        self._held: dict[str, int] = {}
        self._holder: dict[int, str] = {}  # id(instance) -> the party holding it
        self._load = load
        self._size = size
        self._queue_size = queue_size
        self._idle: list[T] = []
        self._all: list[T] = []
        self._loading = 0
        self._waiters: dict[str, deque[asyncio.Future[T]]] = {}
        """Per party, in turn order: the party served last moves to the end."""

    @property
    def loaded(self) -> int:
        return len(self._all)

    @property
    def busy(self) -> int:
        return len(self._all) - len(self._idle)

    @property
    def waiting(self) -> int:
        return sum(1 for queue in self._waiters.values() for w in queue if not w.done())

    @property
    def instances(self) -> list[T]:
        return list(self._all)

    async def fill(self) -> None:
        """Load every instance now rather than on first use."""
        while len(self._all) + self._loading < self._size:
            self.release(await self._load_one())

    async def acquire(self, party: str = "") -> T:
        """An instance for `party`'s call: at once if one is idle, else in its turn."""
        if self._held.get(party, 0) < self._cap:
            if self._idle:
                return self._lend(self._idle.pop(), party)
            if len(self._all) + self._loading < self._size:
                self._held[party] = self._held.get(party, 0) + 1  # counted while it loads
                try:
                    instance = await self._load_one()
                except BaseException:
                    self._give_back(party)
                    raise
                self._holder[id(instance)] = party
                return instance
        if self.waiting >= self._queue_size:
            raise Overloaded(
                f"Model '{self.name}' is busy: all {self._size} instance(s) are generating and "
                f"{self._queue_size} request(s) are already waiting. Retry shortly.",
            )
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(party, deque()).append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            else:
                self._serve_next()  # a waiter of its party under the cap may now go
            raise

    def release(self, instance: T) -> None:
        party = self._holder.pop(id(instance), None)
        if party is not None:
            self._give_back(party)
        self._idle.append(instance)
        self._serve_next()

    def _serve_next(self) -> None:
        """Lend idle instances to waiters: parties in turn, skipping those at their cap."""
        for party in list(self._waiters):
            if not self._idle:
                return
            queue = self._waiters.pop(party)
            while queue and queue[0].done():  # cancelled while waiting
                queue.popleft()
            if queue and self._held.get(party, 0) < self._cap:
                queue.popleft().set_result(self._lend(self._idle.pop(), party))
            if queue:
                self._waiters[party] = queue  # back of the line (or still at its cap)

    def _lend(self, instance: T, party: str) -> T:
        self._held[party] = self._held.get(party, 0) + 1
        self._holder[id(instance)] = party
        return instance

    def _give_back(self, party: str) -> None:
        self._held[party] -= 1
        if not self._held[party]:
            del self._held[party]

    async def _load_one(self) -> T:
        self._loading += 1
        try:
            instance = await self._load()
        finally:
            self._loading -= 1
        self._all.append(instance)
        return instance
