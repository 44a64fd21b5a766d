"""`corral keys`: create, list and revoke tenants' API keys.

A new key is printed once, as the last line of stdout (or as "key" with --json), so scripts can
take it with `tail -n 1`; only its HMAC is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column

from corral.accounts.admin import KeySpec
from corral.accounts.keys import parse_expiry
from corral.api.admin.protocol import CreatedKey, KeyList, KeyOut
from corral.cli.common import (
    ConfigOption,
    JsonOption,
    accounts,
    database,
    make_table,
    print_json,
    show,
)
from corral.errors import InvalidRequest

app = typer.Typer(help="Manage tenants' API keys.", no_args_is_help=True)

ExpiresHelp = (
    "When the key stops working: a date (2027-01-31: at 00:00 UTC that day) or a time "
    "(2027-01-31T18:00:00+01:00; no offset means UTC)."
)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="The tenant's name or id.")],
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.", min=1)] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.", min=1)] = None,
    models: Annotated[
        str | None, typer.Option(help="Allowed model patterns, comma separated (llama-*,echo).")
    ] = None,
    tiers: Annotated[
        str | None, typer.Option(help="Allowed tiers, comma separated (open,premium,...).")
    ] = None,
    expires: Annotated[str | None, typer.Option(help=ExpiresHelp)] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key for a tenant and print it (once: it cannot be shown again)."""
    spec = KeySpec(
        name=name,
        rpm=rpm,
        tpm=tpm,
        models=_split(models),
        tiers=_split(tiers),
        expires_at=_expiry(expires) if expires is not None else None,
    )
    with database(config) as (settings, db):
        view, plaintext = accounts(settings, db).create_key(tenant, spec)
    created = CreatedKey.created(view, plaintext)
    if as_json:
        print_json(created)
        return
    typer.echo(f"created {created.id} for tenant {created.tenant}")
    typer.echo(f"  models:  {', '.join(created.models) if created.models else 'all'}")
    typer.echo(f"  tiers:   {', '.join(created.tiers) if created.tiers else 'all'}")
    typer.echo(f"  limits:  {show(created.rpm)} rpm, {show(created.tpm)} tpm")
    typer.echo(f"  expires: {_when(created.expires_at)}")
    typer.echo("Store the key now; it is not shown again:", err=True)
    typer.echo(plaintext)


@app.command("list")
def list_keys(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys (ids and settings; never the keys themselves)."""
    with database(config) as (settings, db):
        views = accounts(settings, db).list_keys(tenant)
    rows = [KeyOut.of(v) for v in views]
    if as_json:
        print_json(KeyList(data=rows))
        return
    table = make_table(
        Column("id", no_wrap=True),
        "tenant",
        "name",
        "status",
        "rpm",
        "tpm",
        "models",
        "tiers",
        "expires",
    )
    for row in rows:
        table.add_row(
            row.id,
            row.tenant,
            show(row.name),
            row.status,
            show(row.rpm),
            show(row.tpm),
            ",".join(row.models) if row.models is not None else "all",
            ",".join(row.tiers) if row.tiers is not None else "all",
            _when(row.expires_at, short=True),
        )
    Console().print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key; servers refuse it within a second."""
    with database(config) as (settings, db):
        view = accounts(settings, db).revoke_key(key_id)
    typer.echo(f"revoked {view.id} (tenant {view.tenant})")


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _expiry(text: str) -> dt.datetime:
    try:
        return parse_expiry(text)
    except ValueError as exc:
        raise InvalidRequest(f"--expires: {exc}", param="expires") from None


def _when(moment: dt.datetime | None, short: bool = False) -> str:
    if moment is None:
        return "never"
    return moment.strftime("%Y-%m-%d %H:%M") if short else moment.isoformat()
