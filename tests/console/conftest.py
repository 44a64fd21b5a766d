"""One console server for the module's tests (starting the embedded model takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.server import Console, running_console


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-home")) as running:
        yield running
