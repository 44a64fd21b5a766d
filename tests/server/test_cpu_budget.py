"""The start-up check of inference threads against cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.server import cpu_budget
from corral.settings import Settings, load_settings


def settings_with(tmp_path: Path, model_path: Path, models: list[str]) -> Settings:
    entries = "".join(
        f'[[models]]\nname = "m{i}"\npath = "{model_path}"\n{extra}\n'
        for i, extra in enumerate(models)
    )
    config = tmp_path / "corral.toml"
    config.write_text(f"embedded_model = false\n{entries}")
    return load_settings(config, home=tmp_path / "home")


def test_one_worker_on_all_cores_fits(tmp_path: Path, model_path: Path) -> None:
    settings = settings_with(tmp_path, model_path, [""])  # threads default to the cores

    assert cpu_budget.check(settings, workers=1, cores=8) is None


def test_workers_times_threads_beyond_the_cores_warn_and_make_openmp_sleep(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "unset at the end")  # restored to what it was
    monkeypatch.delenv("OMP_WAIT_POLICY")
    settings = settings_with(tmp_path, model_path, ["threads = 2\ninstances = 2", "threads = 1"])

    warning = cpu_budget.check(settings, workers=2, cores=8)

    assert warning is not None
    assert "10 inference threads on 8 cores" in warning
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_an_operators_own_wait_policy_is_kept(
    tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    settings = settings_with(tmp_path, model_path, ["threads = 4"])

    warning = cpu_budget.check(settings, workers=3, cores=4)

    assert warning is not None and "OMP_WAIT_POLICY=ACTIVE" in warning
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
