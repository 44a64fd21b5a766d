"""`corral serve`: the admin key it uses when none is configured, and what its supervisor holds."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
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


_SERVE_UP_TO_THE_FORK = """
import sys
from corral.cli import serve
serve._supervise = lambda settings, workers: print(sorted(
    m for m in ("sqlalchemy", "fastapi", "starlette", "llama_cpp", "numpy", "corral.api.app")
    if m in sys.modules
))
serve.serve(port=9)
"""


def test_the_supervisor_imports_no_database_web_framework_or_model(tmp_path: Path) -> None:
    # The supervisor only binds the port and restarts workers; each worker imports these
    # itself, so in the supervisor they would be memory held for nothing (tens of MB).
    env = {**os.environ, "CORRAL_HOME": str(tmp_path)}
    env.pop("CORRAL_CONFIG", None)

    result = subprocess.run(
        [sys.executable, "-c", _SERVE_UP_TO_THE_FORK],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
