"""The embedded model opened once per test module, as served (q8_0 KV cache, flash attention)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from corral.backends.llama_cpp import loader
from corral.settings import LocalModelConfig


@pytest.fixture(scope="module")
def llama(model_path: Path) -> Iterator[llama_cpp.Llama]:
    """Its own context holds 2048 cells: room for the long prompts of single-sequence tests
    (the batch scheduler decodes in a context of its own)."""
    model = loader.open_generator(LocalModelConfig(name="smol", path=model_path), 2048)
    yield model
    model.close()
