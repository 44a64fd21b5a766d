"""Configuration: file plus environment, validated, with errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import ConfigError
from corral.settings import LocalModelConfig, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "corral.toml"
    path.write_text(text)
    return path


def test_file_values_are_read(tmp_path: Path, model_path: Path) -> None:
    config = write(
        tmp_path,
        f'[server]\nport = 9999\n[[models]]\nname = "m"\npath = "{model_path}"\ninstances = 2\n',
    )

    settings = load_settings(config)

    assert settings.server.port == 9999
    model = settings.models[0]
    assert isinstance(model, LocalModelConfig)
    assert model.instances == 2


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path, "[server]\nport = 9999\n")
    monkeypatch.setenv("CORRAL_SERVER__PORT", "7777")
    monkeypatch.setenv("CORRAL_HOME", str(tmp_path / "home"))

    settings = load_settings(config)

    assert settings.server.port == 7777
    assert settings.home == tmp_path / "home"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.prot: unknown setting"):
        load_settings(write(tmp_path, "[server]\nprot = 1\n"))


def test_bad_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.0\.path: .*no such file"):
        load_settings(write(tmp_path, '[[models]]\nname = "m"\npath = "/nope.gguf"\n'))


def test_duplicate_model_names_are_refused(tmp_path: Path, model_path: Path) -> None:
    entry = f'[[models]]\nname = "m"\npath = "{model_path}"\n'

    with pytest.raises(ConfigError, match="repeated: m"):
        load_settings(write(tmp_path, entry * 2))


def test_broken_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[server\n"))


def test_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml")


def test_quantized_cache_without_flash_attention_is_refused(
    tmp_path: Path, model_path: Path
) -> None:
    entry = f'[[models]]\nname = "m"\npath = "{model_path}"\nflash_attention = false\n'

    with pytest.raises(ConfigError, match="needs flash_attention = true"):
        load_settings(write(tmp_path, entry))


def test_a_shared_kv_cache_smaller_than_one_context_is_refused(
    tmp_path: Path, model_path: Path
) -> None:
    entry = (
        f'[[models]]\nname = "m"\npath = "{model_path}"\nslots = 8\n'
        "context_length = 8192\nkv_cells = 4096\n"
    )

    with pytest.raises(ConfigError, match="kv_cells must be at least context_length"):
        load_settings(write(tmp_path, entry))
