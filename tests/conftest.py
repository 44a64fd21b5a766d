"""Shared fixtures: a real `corral serve` on a free loopback port and the official OpenAI SDK."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from corral.settings import load_settings
from tests.databases import REDIS_URL, empty_tables, postgres_database, redis_namespace
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
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """This run's PostgreSQL database (migrated by the first `open_database` on it)."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs twice: on a SQLite file and on this run's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'corral.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    empty_tables(url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[tuple[str, str]]:
    """(URL, key namespace) in this machine's Redis, cleaned after the run."""
    with redis_namespace() as namespace:
        yield REDIS_URL, namespace


def pytest_unconfigure(config: pytest.Config) -> None:
    """llama-cpp-python opens /dev/null twice when imported and never closes it: closed here, so
    the interpreter's exit does not print a ResourceWarning for each."""
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()
