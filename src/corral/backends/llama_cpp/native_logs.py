"""Route llama.cpp's own log lines into Python logging, so stderr stays one JSON object a line."""

from __future__ import annotations

import ctypes
import logging

import llama_cpp

logger = logging.getLogger("llama.cpp")

# ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continuation. Its warnings are
# mostly about settings corral chose on purpose (e.g. a vocab-only load), so they go to debug.
_LEVELS = {4: logging.ERROR}
_ABORTED = ("failed with error 1", "compute status: 1", "failed to decode, ret = 2")
"""The ends of the error lines of a decode stopped on purpose (`abort`): 1 is
`GGML_STATUS_ABORTED`, 2 what `llama_decode` returns then. A cancelled request, no failure."""


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _forward(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    message = text.decode("utf-8", errors="replace").strip()
    if message:
        aborted = message.endswith(_ABORTED)
        logger.log(logging.DEBUG if aborted else _LEVELS.get(level, logging.DEBUG), message)


def install() -> None:
    llama_cpp.llama_log_set(_forward, ctypes.c_void_p(0))
