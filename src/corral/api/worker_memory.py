"""What a server worker asks of the C allocator, so that an idle server holds only what it uses.

glibc's malloc gives each thread that allocates an arena of its own (up to eight per core), and
keeps memory freed in any of them for reuse rather than handing it back. A worker allocates
much once and frees it as it starts (the model's vocabulary is read before the model loads and
dropped once it has; migrations, schemas, parsed settings), then runs several threads (the
event loop, the thread pool, the batch scheduler). So a worker limits itself to two arenas
(`limit_arenas`: the threads that allocate often are two, the event loop and the scheduler) and
hands back what its start freed once it is ready (`release_free_memory`); the memory
an idle server then holds is in docs/limits.md. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
from typing import Any

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's <malloc.h>


def _libc() -> Any | None:
    try:
        return ctypes.CDLL(None)  # the process's own symbols: libc's, on Linux
    except OSError:
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Before the process starts its threads. True when the allocator took the limit."""
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt(_M_ARENA_MAX, arenas)) if mallopt is not None else False


def release_free_memory() -> bool:
    """Hand freed heap memory back to the system. True when some was."""
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False
