"""The `corral` command line, one module per command group."""

from __future__ import annotations

import sys

import typer

from corral import __version__
from corral.cli import (
    access,
    audit,
    billing,
    chat,
    config,
    keys,
    models,
    serve,
    tasks,
    tenants,
)
from corral.errors import ConfigError, CorralError

app = typer.Typer(
    name="corral",
    help="A self-hosted AI model platform behind one OpenAI-compatible API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.add_typer(models.app, name="models")
app.add_typer(config.app, name="config")
app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
app.add_typer(access.app, name="access")
app.command("usage")(billing.usage)
app.command("invoice")(billing.invoice)
app.add_typer(billing.prices, name="prices")
app.command("audit")(audit.audit)
app.command("summarize")(tasks.summarize)
app.command("explain")(tasks.explain)
app.command("tips")(tasks.tips)


@app.command("version")
def version() -> None:
    """Print corral's version and its inference engine's."""
    import llama_cpp

    typer.echo(f"corral {__version__} (llama-cpp-python {llama_cpp.__version__})")


def main() -> None:
    try:
        app()
    except (ConfigError, CorralError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
