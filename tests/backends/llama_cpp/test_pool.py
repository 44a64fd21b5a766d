"""The instance pool: leases, FIFO waiting, a bounded queue, and cancelled waiters."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from corral.backends.llama_cpp.pool import InstancePool
from corral.errors import Overloaded


def make_pool(size: int, queue_size: int) -> InstancePool[int]:
    counter = itertools.count()

    async def load() -> int:
        return next(counter)

    return InstancePool("m", load, size, queue_size)


async def test_instances_load_on_demand_up_to_size() -> None:
    pool = make_pool(size=2, queue_size=5)

    first, second = await pool.acquire(), await pool.acquire()

    assert {first, second} == {0, 1}
    assert pool.loaded == 2 and pool.busy == 2


async def test_waiters_are_served_in_order() -> None:
    pool = make_pool(size=1, queue_size=5)
    held = await pool.acquire()
    served: list[str] = []

    async def wait(name: str) -> None:
        instance = await pool.acquire()
        served.append(name)
        pool.release(instance)

    tasks = [asyncio.create_task(wait(n)) for n in ("a", "b", "c")]
    await asyncio.sleep(0)
    assert pool.waiting == 3
    pool.release(held)
    await asyncio.gather(*tasks)

    assert served == ["a", "b", "c"]
    assert pool.busy == 0


async def test_full_queue_refuses_at_once() -> None:
    pool = make_pool(size=1, queue_size=1)
    await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)

    with pytest.raises(Overloaded) as caught:
        await pool.acquire()

    assert caught.value.status_code == 503
    assert caught.value.headers["Retry-After"] == "1"
    waiter.cancel()


async def test_cancelled_waiter_does_not_swallow_an_instance() -> None:
    pool = make_pool(size=1, queue_size=2)
    held = await pool.acquire()
    cancelled = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)

    pool.release(held)

    assert await asyncio.wait_for(pool.acquire(), 1) == held


async def test_fill_loads_every_instance() -> None:
    pool = make_pool(size=3, queue_size=0)

    await pool.fill()

    assert pool.loaded == 3 and pool.busy == 0
