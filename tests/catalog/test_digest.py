"""A model's digest follows what decides its answers, and only that."""

from __future__ import annotations

import os
from pathlib import Path

from corral.catalog.digest import digest_of, model_facts, weights_sha256
from corral.settings import LocalModelConfig, RemoteModelConfig


def gguf(folder: Path, content: bytes = b"\0") -> Path:
    path = folder / "model.gguf"
    path.write_bytes(b"GGUF" + content * 100)
    return path


def test_the_weights_digest_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    weights = gguf(tmp_path)
    first = weights_sha256(weights, tmp_path)
    assert weights_sha256(weights, tmp_path) == first
    weights.write_bytes(b"GGUF" + b"\1" * 100)
    os.utime(weights, ns=(1, 1))
    assert weights_sha256(weights, tmp_path) != first


def test_the_digest_moves_with_the_weights_the_cache_type_and_an_adapter(tmp_path: Path) -> None:
    config = LocalModelConfig(name="local", path=gguf(tmp_path))
    served = digest_of(model_facts(config, tmp_path))

    renamed = config.model_copy(update={"name": "renamed"})
    f16 = config.model_copy(update={"kv_cache_type": "f16"})
    adapted = model_facts(config, tmp_path, adapter_sha256="ab" * 32)

    assert digest_of(model_facts(renamed, tmp_path)) == served  # the same model answers
    assert digest_of(model_facts(f16, tmp_path)) != served  # log-probs move with the cache
    assert digest_of(adapted) != served


def test_a_partner_model_is_known_by_its_upstream_name() -> None:
    mini = RemoteModelConfig(name="p", backend="openai", upstream_model="gpt-4o-mini")
    full = mini.model_copy(update={"upstream_model": "gpt-4o"})

    assert model_facts(mini, Path("."))["upstream"] == "gpt-4o-mini"
    assert digest_of(model_facts(mini, Path("."))) != digest_of(model_facts(full, Path(".")))
