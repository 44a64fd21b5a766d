"""Options and helpers shared by the command groups.

The account commands work on the database directly (the one `corral serve` uses, found through
CORRAL_HOME or CORRAL_DATABASE_URL), so they need no running server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel

from corral.errors import InvalidRequest
from corral.money import parse_amount
from corral.settings import Settings, load_settings

if TYPE_CHECKING:  # imported where used: `corral serve` needs no rich, SQLAlchemy or accounts
    from rich.table import Column, Table

    from corral.accounts.admin import AccountsAdmin
    from corral.storage import Database

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config file (TOML). Default: $CORRAL_CONFIG.", show_default=False
    ),
]


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's shape).")]


@contextmanager
def database(config: Path | None) -> Iterator[tuple[Settings, Database]]:
    """The settings and the server's database, closed when the command is done."""
    from corral.storage import open_database

    settings = settings_from(config)
    db = open_database(settings)
    try:
        yield settings, db
    finally:
        db.close()


def accounts(settings: Settings, db: Database) -> AccountsAdmin:
    """The account service, hashing keys with the same secret the servers use."""
    # Imported here: the composition root loads the whole pipeline, which `corral serve`'s
    # parent process has no use for.
    from corral.services import accounts_admin

    return accounts_admin(settings, db)


def amount(text: str, option: str) -> int:
    """A money option ('12.50', currency units) → micro-units, or a one-line error."""
    try:
        return parse_amount(text)
    except ValueError as exc:
        raise InvalidRequest(f"{option}: {exc}", param=option) from None


def print_json(value: BaseModel | dict[str, object]) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    typer.echo(json.dumps(data, indent=2))


def make_table(*columns: str | Column, title: str | None = None) -> Table:
    """A table whose text columns fold rather than cut, so long ids and names stay whole."""
    from rich.table import Column, Table

    folded = (Column(c, overflow="fold") if isinstance(c, str) else c for c in columns)
    return Table(*folded, title=title)


def show(value: object) -> str:
    return "-" if value is None else str(value)
