"""`corral tenants`: create, list, show and update tenants; record MAU licence grants.

The account commands work on the database directly (the one `corral serve` uses, found through
CORRAL_HOME or CORRAL_DATABASE_URL), so they need no running server; servers pick the changes
up within a second. This module also holds the helpers the other account commands share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Column, Table

from corral.accounts.access import AccessService
from corral.accounts.admin import UNSET, AccountsAdmin
from corral.accounts.keys import key_hasher
from corral.api.admin.protocol import GrantOut, TenantList, TenantOut
from corral.catalog.licences import build_licences
from corral.cli.common import ConfigOption, settings_from
from corral.errors import InvalidRequest
from corral.metering.money import parse_amount
from corral.settings import TENANT_NAME_PATTERN, Settings
from corral.storage import Database, open_database

T = TypeVar("T")
app = typer.Typer(help="Manage tenants: budgets, MAU, data policy, grants.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's shape).")]
PolicyHelp = "Data policy for partner models: allow | pseudonymize | local_only."


# -- shared by the account commands ----------------------------------------------------------


@contextmanager
def database(config: Path | None) -> Iterator[tuple[Settings, Database]]:
    """The settings and the server's database, closed when the command is done."""
    settings = settings_from(config)
    db = open_database(settings)
    try:
        yield settings, db
    finally:
        db.close()


def accounts(settings: Settings, db: Database) -> AccountsAdmin:
    """The account service, hashing keys with the same secret the servers use."""
    return AccountsAdmin(db, key_hasher(settings.home, settings.key_secret))


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
    folded = (Column(c, overflow="fold") if isinstance(c, str) else c for c in columns)
    return Table(*folded, title=title)


def show(value: object) -> str:
    return "-" if value is None else str(value)


# -- commands --------------------------------------------------------------------------------


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The tenant's name (letters, digits, . _ -).")],
    budget: Annotated[
        str | None, typer.Option(help="Monthly budget in currency units, e.g. 12.50.")
    ] = None,
    mau: Annotated[int | None, typer.Option(help="Monthly active users.", min=0)] = None,
    policy: Annotated[str, typer.Option(help=PolicyHelp)] = "allow",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant (unlimited budget unless --budget is given)."""
    if not re.fullmatch(TENANT_NAME_PATTERN, name):
        raise InvalidRequest(
            f"'{name}' is not a tenant name: use up to 64 letters, digits, '.', '_' or '-'.",
            param="name",
        )
    micros = amount(budget, "--budget") if budget is not None else None
    with database(config) as (settings, db):
        view = accounts(settings, db).create_tenant(
            name, budget_micros=micros, mau=mau, policy=policy
        )
    _print_tenants([TenantOut.of(view)], as_json, single=True)


@app.command("list")
def list_tenants(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List every tenant."""
    with database(config) as (settings, db):
        views = accounts(settings, db).list_tenants()
    _print_tenants([TenantOut.of(v) for v in views], as_json)


@app.command("show")
def show_tenant(
    name: Annotated[str, typer.Argument(help="Tenant name or id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one tenant."""
    with database(config) as (settings, db):
        view = accounts(settings, db).get_tenant(name)
    _print_tenants([TenantOut.of(view)], as_json, single=True)


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Tenant name or id.")],
    budget: Annotated[
        str | None, typer.Option(help="Monthly budget, e.g. 12.50; 'none' removes the limit.")
    ] = None,
    mau: Annotated[
        str | None, typer.Option(help="Monthly active users; 'none' clears the figure.")
    ] = None,
    policy: Annotated[str | None, typer.Option(help=PolicyHelp)] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a tenant's budget, MAU figure or data policy (what is not given stays)."""
    if budget is None and mau is None and policy is None:
        raise InvalidRequest("Nothing to change: give --budget, --mau or --policy.")
    new_budget = UNSET if budget is None else _or_none(budget, lambda t: amount(t, "--budget"))
    new_mau = UNSET if mau is None else _or_none(mau, _count)
    with database(config) as (settings, db):
        view = accounts(settings, db).update_tenant(
            name,
            budget_micros=new_budget,
            mau=new_mau,
            policy=UNSET if policy is None else policy,
        )
    _print_tenants([TenantOut.of(view)], as_json, single=True)


@app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="Tenant name or id.")],
    licence: Annotated[str, typer.Option("--licence", help="The licence's id.")],
    note: Annotated[str | None, typer.Option(help="Where the grant is documented.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record that a tenant above a licence's MAU threshold holds its own grant."""
    with database(config) as (settings, db):
        terms = build_licences(settings).get(licence)
        tenant = accounts(settings, db).get_tenant(name)
        AccessService(db).grant_licence(tenant.id, terms, note)
    out = GrantOut(tenant=tenant.name, licence_id=terms.id, note=note)
    if as_json:
        print_json(out)
    else:
        typer.echo(f"granted {terms.id} to {tenant.name}; servers apply it within a second")


# -- helpers ---------------------------------------------------------------------------------


def _or_none(text: str, parse: Callable[[str], T]) -> T | None:
    return None if text.strip().lower() == "none" else parse(text)


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise InvalidRequest(f"--mau: '{text}' is not a whole number >= 0 (or 'none')")
    return int(text)


def _print_tenants(rows: list[TenantOut], as_json: bool, single: bool = False) -> None:
    if as_json:
        print_json(rows[0] if single else TenantList(data=rows))
        return
    table = make_table("name", Column("id", no_wrap=True), "budget", "mau", "policy", "created")
    for row in rows:
        created = row.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(row.name, row.id, show(row.budget), show(row.mau), row.policy, created)
    Console().print(table)
