"""Stopping a `llama_decode` half-way: llama.cpp's abort callback, driven by cancel flags.

A prompt is decoded in batches of up to hundreds of tokens, and deep in a long context one
batch takes seconds on a small CPU. ggml asks the context's abort callback between two nodes of
the graph (hundreds per batch); when it answers yes, `llama_decode` returns 2 and llama.cpp has
removed the positions of the unfinished micro-batch from the KV cache, so the cache holds
exactly what the caller had before that decode plus the micro-batches that finished.

The callback is Python, so every call takes the GIL: an `AbortSwitch` installs it only while a
decode that reads prompt tokens runs (`watching`), never for the one-token steps of generation,
whose cost it would add to every token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import llama_cpp

from corral.cancellation import Cancellation

ABORTED = 2
"""What `llama_decode` returns when the callback stopped it."""

_NO_CALLBACK = llama_cpp.ggml_abort_callback()


class AbortSwitch:
    """The abort callback of one llama.cpp context: yes once a watched flag is set, or once the
    switch is closed (the model is being unloaded)."""

    def __init__(self, ctx: Any) -> None:
        """`ctx`: the raw `llama_context` pointer."""
        self._ctx = ctx
        self._flags: tuple[Cancellation, ...] = ()
        self._closed = False
        # llama.cpp keeps only the function pointer: this object must outlive every decode.
        self._callback = llama_cpp.ggml_abort_callback(self._should_abort)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Abort the decode under way, if any, and every later watched one."""
        self._closed = True

    @contextlib.contextmanager
    def watching(self, flags: Iterable[Cancellation]) -> Iterator[None]:
        """Decodes within abort once one of `flags` is set."""
        self._flags = tuple(flags)
        llama_cpp.llama_set_abort_callback(self._ctx, self._callback, None)
        try:
            yield
        finally:
            llama_cpp.llama_set_abort_callback(self._ctx, _NO_CALLBACK, None)
            self._flags = ()

    def tripped(self) -> bool:
        """Within `watching`: whether a decode would be aborted now (a failed decode was)."""
        return self._should_abort(None)

    def _should_abort(self, _data: Any) -> bool:
        return self._closed or any(flag.is_set() for flag in self._flags)
