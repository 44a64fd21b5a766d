"""`corral access`: review tenants' requests for gated models; approve or deny them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column

from corral.accounts.access import AccessService
from corral.accounts.views import AccessRequestView
from corral.api.access.protocol import AccessRequestList, AccessRequestOut
from corral.api.admin.protocol import request_status
from corral.cli.common import (
    ConfigOption,
    JsonOption,
    accounts,
    database,
    make_table,
    print_json,
    show,
)

app = typer.Typer(help="Review requests for gated models.", no_args_is_help=True)


@app.command("list")
def list_requests(
    status: Annotated[
        str | None, typer.Option(help="Only requests that are pending, approved or denied.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's requests.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List access requests, oldest first."""
    wanted = request_status(status)
    with database(config) as (settings, db):
        tenant_id = accounts(settings, db).get_tenant(tenant).id if tenant else None
        views = AccessService(db).list_requests(tenant_id=tenant_id, status=wanted)
    rows = [AccessRequestOut.of(v) for v in views]
    if as_json:
        print_json(AccessRequestList(data=rows))
        return
    table = make_table(
        Column("id", no_wrap=True), "tenant", "model", "status", "asked", "reason", "decision"
    )
    for row in rows:
        asked = row.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            row.id, row.tenant, row.model, row.status, asked, row.reason, show(row.decision_reason)
        )
    Console().print(table)


@app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(help="The request's id (acc_...).")],
    reason: Annotated[str | None, typer.Option(help="A note for the tenant.")] = None,
    config: ConfigOption = None,
) -> None:
    """Approve a request: the tenant may use the model within a second."""
    _report(_decide(config, request_id, "approved", reason))


@app.command("deny")
def deny(
    request_id: Annotated[str, typer.Argument(help="The request's id (acc_...).")],
    reason: Annotated[str, typer.Option(help="Why, for the tenant.")],
    config: ConfigOption = None,
) -> None:
    """Deny a request, saying why."""
    _report(_decide(config, request_id, "denied", reason))


def _decide(
    config: Path | None, request_id: str, decision: str, reason: str | None
) -> AccessRequestView:
    with database(config) as (_, db):
        return AccessService(db).decide(request_id, decision, reason)


def _report(view: AccessRequestView) -> None:
    typer.echo(f"{view.status} {view.id}: {view.tenant} for {view.model}")
