"""Registered models survive restarts and damaged files are reported, not silently dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.catalog import added_models
from corral.errors import ConfigError
from corral.settings import LocalModelConfig


def test_added_models_persist(tmp_path: Path, model_path: Path) -> None:
    added_models.add(tmp_path, LocalModelConfig(name="a", path=model_path))
    added_models.add(tmp_path, LocalModelConfig(name="b", path=model_path, tier="premium"))

    models = added_models.load(tmp_path)
    assert [(m.name, m.tier) for m in models] == [("a", "open"), ("b", "premium")]


def test_duplicate_name_refused_and_nothing_lost(tmp_path: Path, model_path: Path) -> None:
    added_models.add(tmp_path, LocalModelConfig(name="a", path=model_path))

    with pytest.raises(ConfigError, match="already registered"):
        added_models.add(tmp_path, LocalModelConfig(name="a", path=model_path))

    assert [m.name for m in added_models.load(tmp_path)] == ["a"]


def test_remove_reports_unknown_names(tmp_path: Path, model_path: Path) -> None:
    added_models.add(tmp_path, LocalModelConfig(name="a", path=model_path))

    assert added_models.remove(tmp_path, "zzz") is False
    assert added_models.remove(tmp_path, "a") is True
    assert added_models.load(tmp_path) == []


def test_damaged_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text("{oops")

    with pytest.raises(ConfigError, match="damaged"):
        added_models.load(tmp_path)
