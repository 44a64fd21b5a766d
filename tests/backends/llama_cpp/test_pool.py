"""The instance pool: leases, waiting in turn by party, a bounded queue, and cancelled waiters."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from corral.backends.llama_cpp.pool import InstancePool
from corral.errors import Overloaded


def make_pool(size: int, queue_size: int, max_per_party: int | None = None) -> InstancePool[int]:
    counter = itertools.count()

    async def load() -> int:
        return next(counter)

    return InstancePool("m", load, size, queue_size, max_per_party)


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


async def test_a_tenants_backlog_does_not_hold_up_another_tenant() -> None:
    pool = make_pool(size=1, queue_size=10)
    held = await pool.acquire("busy")
    served: list[str] = []

    async def call(party: str, name: str) -> None:
        instance = await pool.acquire(party)
        served.append(name)
        await asyncio.sleep(0)
        pool.release(instance)

    backlog = [asyncio.create_task(call("busy", f"busy{i}")) for i in range(4)]
    await asyncio.sleep(0)
    other = asyncio.create_task(call("quiet", "quiet"))
    await asyncio.sleep(0)
    pool.release(held)
    await asyncio.gather(*backlog, other)

    assert served == ["busy0", "quiet", "busy1", "busy2", "busy3"]


async def test_a_party_cancelled_while_waiting_leaves_the_others_their_turn() -> None:
    pool = make_pool(size=1, queue_size=10)
    held = await pool.acquire("a")
    gone = asyncio.create_task(pool.acquire("a"))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(pool.acquire("b"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)

    pool.release(held)

    assert await asyncio.wait_for(waiting, 1) == held
    assert pool.waiting == 0


async def test_a_tenant_at_its_cap_leaves_an_instance_free_for_another() -> None:
    pool = make_pool(size=2, queue_size=10, max_per_party=1)
    first = await pool.acquire("busy")
    second = asyncio.create_task(pool.acquire("busy"))
    await asyncio.sleep(0)

    other = await asyncio.wait_for(pool.acquire("quiet"), 1)

    assert not second.done() and pool.waiting == 1
    pool.release(first)
    assert await asyncio.wait_for(second, 1) == first
    pool.release(other)
    assert pool.busy == 1


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
