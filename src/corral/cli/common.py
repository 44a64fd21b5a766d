"""Options and helpers shared by the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corral.settings import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config file (TOML). Default: $CORRAL_CONFIG.", show_default=False
    ),
]


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)
