"""Readiness follows the stores a server needs: a dead or hanging one makes it unready within
the probe timeout, the answer is kept briefly, and a hanging store holds one probe at most."""

from __future__ import annotations

import asyncio

from corral.observability.readiness import OpsConfig, Readiness

FAST = OpsConfig(readiness_timeout_s=0.05, readiness_cache_s=2.0)


class Store:
    def __init__(self) -> None:
        self.up = True
        self.hangs = False
        self.probes = 0

    async def ping(self) -> None:
        self.probes += 1
        if self.hangs:
            await asyncio.sleep(3600)
        if not self.up:
            raise ConnectionError("Error 111 connecting to 10.0.0.7:6379")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_dead_store_is_unavailable_after_the_cached_answer_expires() -> None:
    redis, clock = Store(), Clock()
    readiness = Readiness({"database": Store().ping, "redis": redis.ping}, FAST, clock)

    first = await readiness.dependencies()
    redis.up = False
    cached = await readiness.dependencies()
    clock.now = 2.0
    dead = await readiness.dependencies()

    assert first == cached == {"database": "ok", "redis": "ok"}
    assert dead == {"database": "ok", "redis": "unavailable"}
    assert redis.probes == 2  # one per readiness_cache_s, however often it is asked


async def test_a_hanging_store_is_unavailable_within_the_timeout_and_probed_once() -> None:
    redis, clock = Store(), Clock()
    redis.hangs = True
    readiness = Readiness({"redis": redis.ping}, FAST, clock)

    answers = await asyncio.wait_for(
        asyncio.gather(*(readiness.dependencies() for _ in range(20))), timeout=1
    )
    clock.now = 2.0
    again = await asyncio.wait_for(readiness.dependencies(), timeout=1)

    assert all(answer == {"redis": "unavailable"} for answer in answers)
    assert again == {"redis": "unavailable"}
    assert redis.probes == 1  # the hanging probe is waited for again, not joined by another


async def test_a_store_that_comes_back_is_ok_again() -> None:
    redis, clock = Store(), Clock()
    redis.up = False
    readiness = Readiness({"redis": redis.ping}, FAST, clock)

    down = await readiness.dependencies()
    redis.up = True
    clock.now = 2.0
    up = await readiness.dependencies()

    assert (down, up) == ({"redis": "unavailable"}, {"redis": "ok"})
