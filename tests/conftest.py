"""Shared fixtures: a real `corral serve` on a free loopback port and the official OpenAI SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from corral.settings import load_settings
from tests.support import ADMIN_KEY, RunningServer, start_server


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = load_settings().embedded_model_path
    assert path.is_file(), "the embedded model is missing: run `make setup`"
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("corral-home"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY, max_retries=0)
