"""`corral serve` told to stop while its model reads a long prompt stops soon after its grace
period, instead of when the prompt's decode would have ended."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.accounts_kit import model_table
from tests.support import ADMIN_KEY, RunningServer, start_server

GRACE_S = 5.0
"""uvicorn's graceful shutdown (`cli.serve`): requests still running then are cancelled."""

PROMPT = "The harbour master wrote a long letter about the tides and the moorings. " * 250
"""About 3,500 tokens: read in one decode with `prompt_tokens_per_step` = 4096, which takes
far longer than the grace period on the test machine (bench/cancel_latency.py measures it)."""


def ask_in_background(server: RunningServer) -> threading.Thread:
    def ask() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server goes away under it
            httpx.post(
                f"{server.base_url}/v1/completions",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                json={"model": "smol", "prompt": PROMPT, "max_tokens": 1},
                timeout=120,
            )

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("slots", [1, 2])
def test_a_server_stopped_during_a_long_prompt_exits_after_its_grace_period(
    tmp_path: Path, model_path: Path, slots: int
) -> None:
    batching = {"prompt_tokens_per_step": 4096, "kv_cells": 8192} if slots > 1 else {}
    table = model_table("smol", model_path, slots=slots, context_length=4096, threads=2, **batching)
    server = start_server(tmp_path / "home", "embedded_model = false\n" + table)
    try:
        asking = ask_in_background(server)
        time.sleep(2)  # the prompt is being read
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=120)
        took = time.monotonic() - stopped
    finally:
        server.stop()
    asking.join(timeout=10)

    assert code == 0, server.log_text()
    assert took < GRACE_S + 4, server.log_text()
