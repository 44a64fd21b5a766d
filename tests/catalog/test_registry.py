"""Registered models survive restarts and damaged files are reported, not silently dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.catalog import registry
from corral.errors import ConfigError
from corral.settings import LocalModelConfig


def test_added_models_persist(tmp_path: Path, model_path: Path) -> None:
    registry.add(tmp_path, LocalModelConfig(name="a", path=model_path))
    registry.add(tmp_path, LocalModelConfig(name="b", path=model_path, tier="premium"))

    assert [(m.name, m.tier) for m in registry.load(tmp_path)] == [("a", "open"), ("b", "premium")]


def test_duplicate_name_refused_and_nothing_lost(tmp_path: Path, model_path: Path) -> None:
    registry.add(tmp_path, LocalModelConfig(name="a", path=model_path))

    with pytest.raises(ConfigError, match="already registered"):
        registry.add(tmp_path, LocalModelConfig(name="a", path=model_path))

    assert [m.name for m in registry.load(tmp_path)] == ["a"]


def test_remove_reports_unknown_names(tmp_path: Path, model_path: Path) -> None:
    registry.add(tmp_path, LocalModelConfig(name="a", path=model_path))

    assert registry.remove(tmp_path, "zzz") is False
    assert registry.remove(tmp_path, "a") is True
    assert registry.load(tmp_path) == []


def test_damaged_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text("{oops")

    with pytest.raises(ConfigError, match="damaged"):
        registry.load(tmp_path)
