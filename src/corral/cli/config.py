"""`corral config show`: the effective configuration, secrets masked."""

from __future__ import annotations

import json

import typer

from corral.cli.common import ConfigOption, settings_from
from corral.observability.redact import redact_all

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(config: ConfigOption = None) -> None:
    """Print the effective configuration (file + environment) with secrets masked."""
    settings = settings_from(config)
    # SecretStr fields dump as '**********': keys and database passwords never print; nor does
    # a password written into a model's base_url.
    typer.echo(json.dumps(redact_all(settings.model_dump(mode="json")), indent=2))
