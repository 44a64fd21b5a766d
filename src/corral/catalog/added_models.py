"""Models registered with `corral models add`, kept in `CORRAL_HOME/models.json`.

The file is replaced atomically, so a crash mid-write never loses the models already there.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from corral.errors import ConfigError
from corral.settings import LocalModelConfig
from corral.storage.private import private_dir

_FILE = "models.json"
_LIST = TypeAdapter(list[LocalModelConfig])


def load(home: Path) -> list[LocalModelConfig]:
    path = home / _FILE
    if not path.exists():
        return []
    try:
        return _LIST.validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ConfigError(f"{path} is damaged or lists a missing model file: {exc}") from None


def add(home: Path, config: LocalModelConfig) -> None:
    models = load(home)
    if any(m.name == config.name for m in models):
        raise ConfigError(f"a model named '{config.name}' is already registered")
    _save(home, [*models, config])


def remove(home: Path, name: str) -> bool:
    models = load(home)
    kept = [m for m in models if m.name != name]
    if len(kept) == len(models):
        return False
    _save(home, kept)
    return True


def _save(home: Path, models: list[LocalModelConfig]) -> None:
    private_dir(home)
    payload = json.dumps([m.model_dump(mode="json") for m in models], indent=2)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".models-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, home / _FILE)
