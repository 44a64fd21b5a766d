"""The admin key `corral serve` uses when none is configured."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from corral.cli.serve import resolve_admin_key
from corral.settings import load_settings


def test_generated_once_kept_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORRAL_ADMIN_KEY", raising=False)
    settings = load_settings(home=tmp_path)

    first, second = resolve_admin_key(settings), resolve_admin_key(settings)

    assert first.get_secret_value() == second.get_secret_value()
    assert first.get_secret_value().startswith("sk-corral-")
    assert stat.S_IMODE((tmp_path / "admin.key").stat().st_mode) == 0o600


def test_configured_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRAL_ADMIN_KEY", "sk-operator")

    key = resolve_admin_key(load_settings(home=tmp_path))

    assert key == SecretStr("sk-operator")
    assert not (tmp_path / "admin.key").exists()
