"""`corral tenants`: create, list, show and update tenants; record MAU licence grants.

The account commands work on the database directly (the one `corral serve` uses, found through
CORRAL_HOME or CORRAL_DATABASE_URL), so they need no running server; servers pick the changes
up within a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Column

from corral.accounts.access import AccessService
from corral.accounts.admin import UNSET
from corral.api.admin.protocol import GrantOut, TenantList, TenantOut
from corral.catalog.licences import build_licences
from corral.cli.common import (
    ConfigOption,
    JsonOption,
    accounts,
    amount,
    database,
    make_table,
    print_json,
    show,
)
from corral.errors import InvalidRequest
from corral.settings import TENANT_NAME_PATTERN

T = TypeVar("T")
app = typer.Typer(help="Manage tenants: budgets, MAU, data policy, grants.", no_args_is_help=True)

PolicyHelp = (
    "Data policy for partner models: allow | pseudonymize | pseudonymize_strict | local_only."
)


# -- commands --------------------------------------------------------------------------------


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The tenant's name (letters, digits, . _ -).")],
    budget: Annotated[
        str | None, typer.Option(help="Monthly budget in currency units, e.g. 12.50.")
    ] = None,
    mau: Annotated[int | None, typer.Option(help="Monthly active users.", min=0)] = None,
    policy: Annotated[
        str | None, typer.Option(help=PolicyHelp + " [default: [privacy] default_policy]")
    ] = None,
    retention_hours: Annotated[
        int | None, typer.Option(help="Keep partner calls' bodies this many hours.", min=1)
    ] = None,
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
            name, budget_micros=micros, mau=mau, policy=policy, retention_hours=retention_hours
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
    retention_hours: Annotated[
        str | None,
        typer.Option(help="Keep partner calls' bodies this many hours; 'none' stops it."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a tenant's budget, MAU, data policy or body retention (what is not given stays)."""
    if budget is None and mau is None and policy is None and retention_hours is None:
        raise InvalidRequest(
            "Nothing to change: give --budget, --mau, --policy or --retention-hours."
        )
    new_budget = UNSET if budget is None else _or_none(budget, lambda t: amount(t, "--budget"))
    new_mau = UNSET if mau is None else _or_none(mau, _count)
    with database(config) as (settings, db):
        view = accounts(settings, db).update_tenant(
            name,
            budget_micros=new_budget,
            mau=new_mau,
            policy=UNSET if policy is None else policy,
            retention_hours=UNSET if retention_hours is None else _or_none(retention_hours, _count),
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
