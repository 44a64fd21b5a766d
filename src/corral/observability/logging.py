"""Structured JSON logs, one object per line, carrying the current request id."""

from __future__ import annotations

import logging
import secrets
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("corral_request_id", default=None)


def new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"  # 128 random bits, as uuid4 (a third of its cost)


# uvicorn adds an ANSI-coloured copy of each message; JSON logs have no use for it.
_SKIPPED_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = (-1, "")  # the last second formatted: one strftime a second, not a line

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": f"{self._timestamp(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _SKIPPED_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def _timestamp(self, second: int) -> str:
        if self._second[0] != second:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return self._second[1]


def configure(level: str) -> None:
    # None of these is in a JSON line, and each costs every record (the logging HOWTO's
    # "Optimization" section): the caller's file and line walk the stack on every call.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # The provider SDKs' HTTP clients log every call with its URL at INFO; corral logs its own
    # requests, and a provider that takes its key in the query string must never reach a log.
    for chatty in ("httpx", "httpx2", "httpcore", "anthropic", "openai", "google_genai"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
