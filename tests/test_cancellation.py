"""One cancellation model: a flag set from any thread wakes the waits on it at once; a deadline
bounds them; a wait that is not interrupted leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from contextlib import suppress

import pytest

from corral.cancellation import Cancellation, Within, await_within
from corral.errors import ClientClosedRequest


def _in(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_work_that_finishes_first_gives_its_result() -> None:
    assert await await_within(asyncio.sleep(0.01, result="done"), Cancellation(), _in(5)) == "done"


async def test_setting_the_flag_from_another_thread_stops_the_wait_at_once() -> None:
    cancellation = Cancellation()
    setter = threading.Timer(0.05, cancellation.set)
    setter.start()
    started = time.monotonic()

    with pytest.raises(ClientClosedRequest, match="nobody waits"):
        await await_within(asyncio.sleep(5), cancellation, None, message="nobody waits")

    assert time.monotonic() - started < 0.5
    setter.join()


async def test_setting_the_flag_from_the_loop_stops_the_wait_too() -> None:
    cancellation = Cancellation()
    asyncio.get_running_loop().call_later(0.02, cancellation.set)

    with pytest.raises(ClientClosedRequest):
        await await_within(asyncio.sleep(5), cancellation, _in(5))


async def test_an_interrupted_wait_stops_its_work() -> None:
    cancellation = Cancellation()
    finished = False

    async def work() -> None:
        nonlocal finished
        await asyncio.sleep(5)
        finished = True

    asyncio.get_running_loop().call_later(0.02, cancellation.set)
    with pytest.raises(ClientClosedRequest):
        await await_within(work(), cancellation, None)

    assert not finished


async def test_a_flag_set_before_the_wait_fails_it_without_starting_the_work() -> None:
    cancellation = Cancellation()
    cancellation.set()
    started = False

    async def work() -> None:
        nonlocal started
        started = True

    with pytest.raises(ClientClosedRequest):
        await await_within(work(), cancellation, _in(5))

    assert not started and cancellation.is_set()


async def test_the_deadline_passing_first_is_a_timeout() -> None:
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        await await_within(asyncio.sleep(5), Cancellation(), _in(0.05))

    assert time.monotonic() - started < 0.5


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    waiting = asyncio.ensure_future(await_within(asyncio.sleep(5), Cancellation(), _in(5)))
    await asyncio.sleep(0.01)

    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_finished_wait_leaves_no_task_timer_or_listener_behind() -> None:
    cancellation = Cancellation()
    before = asyncio.all_tasks()

    await await_within(asyncio.sleep(0), cancellation, _in(0.02))
    await asyncio.sleep(0.05)  # the deadline passes after the wait: nothing fires

    cancellation.set()  # a late set disturbs nobody: this task goes on
    await asyncio.sleep(0.01)

    assert asyncio.all_tasks() == before


@pytest.mark.parametrize("interrupted", [False, True])
async def test_a_finished_wait_lets_its_task_go_without_the_garbage_collector(
    interrupted: bool,
) -> None:
    cancellation = Cancellation()

    async def one_wait() -> None:
        with suppress(ClientClosedRequest):
            await await_within(asyncio.sleep(0.05), cancellation, _in(5))

    gc.disable()
    try:
        task = asyncio.create_task(one_wait())
        if interrupted:
            asyncio.get_running_loop().call_later(0.01, cancellation.set)
        await task
        finished = weakref.ref(task)
        del task
        await asyncio.sleep(0)  # the loop lets go of the callback that woke this test

        assert finished() is None
    finally:
        gc.enable()


# -- a stream's many waits ---------------------------------------------------------------------


async def test_a_streams_waits_share_one_deadline() -> None:
    within = Within(Cancellation(), _in(0.1))

    results = [await within.wait(asyncio.sleep(0.01, result=n)) for n in range(3)]
    with pytest.raises(TimeoutError):
        await within.wait(asyncio.sleep(5))
    with pytest.raises(TimeoutError):  # and every wait after it fails at once
        await within.wait(asyncio.sleep(5))

    assert results == [0, 1, 2]
    within.close()


async def test_a_flag_set_between_two_reads_fails_the_next_read() -> None:
    cancellation = Cancellation()
    within = Within(cancellation, _in(5))
    await within.wait(asyncio.sleep(0))

    cancellation.set()

    with pytest.raises(ClientClosedRequest):
        await within.wait(asyncio.sleep(5))
    within.close()


async def test_a_flag_set_while_a_read_waits_interrupts_it() -> None:
    cancellation = Cancellation()
    within = Within(cancellation, None)
    await within.wait(asyncio.sleep(0))
    threading.Timer(0.02, cancellation.set).start()
    started = time.monotonic()

    with pytest.raises(ClientClosedRequest):
        await within.wait(asyncio.sleep(5))

    assert time.monotonic() - started < 0.5
    within.close()


def test_the_flag_is_a_plain_flag_for_threads() -> None:
    cancellation = Cancellation()
    assert not cancellation.is_set()

    cancellation.set()
    cancellation.set()  # a second set changes nothing

    assert cancellation.is_set()


async def test_work_that_finishes_despite_the_interrupt_leaves_the_task_cancellable() -> None:
    cancellation = Cancellation()

    async def stubborn() -> str:
        with suppress(asyncio.CancelledError):
            await asyncio.sleep(5)
        return "finished anyway"

    asyncio.get_running_loop().call_later(0.01, cancellation.set)
    result = await await_within(stubborn(), cancellation, None)

    assert result == "finished anyway"
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0  # no cancel left pending
