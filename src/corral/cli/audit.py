"""`corral audit`: the privacy audit log of partner calls (counts of masked data, no values)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from corral.accounts.admin import find_tenant
from corral.api.audit.protocol import AuditEventOut, AuditList
from corral.cli.common import ConfigOption, JsonOption, database, make_table, print_json
from corral.privacy.audit import AuditLog


def audit(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (name or id).")] = None,
    limit: Annotated[int, typer.Option(help="Newest events to show.", min=1)] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show partner calls: when, who, which model, and what was pseudonymised (counts)."""
    with database(config) as (_, db):
        tenant_id = None
        if tenant is not None:
            with db.read() as session:
                tenant_id = find_tenant(session, tenant).id
        views = AuditLog(db).events(tenant_id=tenant_id, limit=limit)
    events = [AuditEventOut.of(v) for v in views]
    if as_json:
        print_json(AuditList(data=events))
        return
    table = make_table("at", "tenant", "key", "model", "backend", "policy", "pseudonymised")
    for e in events:
        masked = ", ".join(f"{k} {n}" for k, n in sorted(e.pseudonymized.items())) or "-"
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            when, e.tenant or "(operator)", e.api_key_id, e.model, e.backend, e.policy, masked
        )
    Console().print(table)
