"""One console server for the module's tests (starting the embedded model takes seconds), and
the browser tests' Chromium and screenshot folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.console.browser import chromium
from tests.console.server import Console, running_console


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-home")) as running:
        yield running


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: pytest's temporary folder, or `CORRAL_CONSOLE_SHOTS` (the
    README's pictures are made with it set to bench/results/console)."""
    chosen = os.environ.get("CORRAL_CONSOLE_SHOTS")
    if not chosen:
        return tmp_path_factory.mktemp("console-screenshots")
    Path(chosen).mkdir(parents=True, exist_ok=True)
    return Path(chosen)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver
