"""The `corral` command line, one module per command group."""

from __future__ import annotations

import importlib
import sys

import typer

from corral.errors import ConfigError, CorralError

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "serve"),
    "chat": ("chat", "chat"),
    "usage": ("billing", "usage"),
    "invoice": ("billing", "invoice"),
    "audit": ("audit", "audit"),
    "summarize": ("tasks", "summarize"),
    "explain": ("tasks", "explain"),
    "tips": ("tasks", "tips"),
    "version": ("version", "version"),
    "models": ("models", "app"),
    "config": ("config", "app"),
    "tenants": ("tenants", "app"),
    "keys": ("keys", "app"),
    "access": ("access", "app"),
    "prices": ("billing", "prices"),
    "files": ("files", "app"),
    "worker": ("worker", "worker"),
    "jobs": ("jobs", "app"),
    "eval": ("evals", "app"),
    "finetune": ("finetune", "app"),
}
"""Each command (or group of commands) by name: the `corral.cli` module and attribute that
define it, a Typer app for a group, a function for a single command."""


def cli(argv: list[str]) -> typer.Typer:
    """The command line for `argv`: with just the command it names, if it names one, so that
    a `corral serve` process carries none of the other commands' imports (tables, progress bars,
    an HTTP client: 12 MB of an idle server's 124); with them all otherwise (help, errors)."""
    app = typer.Typer(
        name="corral",
        help="A self-hosted AI model platform behind one OpenAI-compatible API.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_group)
    names = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    for name in names:
        module, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"corral.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _group() -> None:
    """A callback: it makes Typer build a group even when it holds one command."""


def main() -> None:
    try:
        cli(sys.argv[1:])()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except CorralError as exc:
        # The operator runs the CLI: the detail kept from tenants is theirs to read.
        detail = f" ({exc.detail})" if exc.detail else ""
        typer.echo(f"error: {exc}{detail}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
