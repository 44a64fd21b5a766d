"""Shared by the client cells: where corral is, and how a cell reports (one JSON line)."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable

BASE_URL = os.environ["CORRAL_BASE_URL"]  # .../v1
API_KEY = os.environ["CORRAL_API_KEY"]
MODEL = os.environ["CORRAL_MODEL"]
EMBEDDING_MODEL = os.environ.get("CORRAL_EMBEDDING_MODEL", MODEL)


def run_cells(cells: dict[str, Callable[[], object]]) -> None:
    results: dict[str, str] = {}
    for name, cell in cells.items():
        try:
            detail = cell()
            results[name] = "pass" + (f" ({detail})" if detail else "")
        except Exception as exc:  # a cell's failure is its result, the others still run
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            results[name] = f"FAIL: {last[:300]}"
    print(json.dumps(results))
