"""A worker hands back to the system the memory its start allocated and freed."""

from __future__ import annotations

import sys

import pytest

from corral.api import worker_memory as memory

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator only")


def _resident_anonymous_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_memory_freed_by_a_start_goes_back_to_the_system() -> None:
    # Blocks of 4 KB come from malloc's heap (Python's own allocator takes only small ones);
    # the last one allocated keeps the heap's top in place, as a long-lived object would.
    blocks = [bytearray(4096) for _ in range(12_000)]
    kept = bytearray(4096)
    del blocks
    before = _resident_anonymous_mb()
    assert memory.release_free_memory()
    assert before - _resident_anonymous_mb() >= 30
    assert len(kept) == 4096


def test_the_allocator_takes_the_arena_limit() -> None:
    assert memory.limit_arenas()
