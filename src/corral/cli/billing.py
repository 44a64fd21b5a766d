"""`corral usage`, `corral invoice` and `corral prices`: what tenants used, owe, and pay.

Usage and invoices read the ledger's daily rollup; amounts are exact decimal strings in the
configured currency. Price overrides replace a model's configured prices on every server.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column

from corral.accounts.prices import PriceOverrides
from corral.api.usage.protocol import UsageReport
from corral.catalog import build_model_configs
from corral.cli.common import (
    ConfigOption,
    JsonOption,
    accounts,
    amount,
    database,
    make_table,
    print_json,
)
from corral.errors import InvalidRequest, NotFound
from corral.metering.usage import Invoice, UsageReports, month_range
from corral.money import format_micros

prices = typer.Typer(help="Override models' prices at run time.", no_args_is_help=True)
FORMATS = ("table", "json", "csv", "pdf")


def usage(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (name or id).")] = None,
    month: Annotated[
        str | None, typer.Option(help="The month as YYYY-MM. [default: this month]")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Daily usage per tenant, model and key: requests, tokens and cost."""
    span = month_range(month or dt.datetime.now(dt.UTC).strftime("%Y-%m"))
    with database(config) as (settings, db):
        tenant_id = accounts(settings, db).get_tenant(tenant).id if tenant else None
        reports = UsageReports(db, settings.billing.currency)
        rows = reports.daily(*span, tenant_id=tenant_id)
    report = UsageReport.of(rows, reports.currency, span, with_tenant=True)
    if as_json:
        print_json(report)
    else:
        _print_usage(report)


def invoice(
    tenant: Annotated[str, typer.Option(help="The tenant's name or id.")],
    month: Annotated[str, typer.Option(help="The month as YYYY-MM.")],
    output: Annotated[str, typer.Option("--format", help="table | json | csv | pdf")] = "table",
    path: Annotated[
        Path | None,
        typer.Option("--output", help="Write the json, csv or pdf here (pdf needs it)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """A tenant's invoice for a month: a line per model and tier, and the exact total."""
    if output not in FORMATS:
        raise InvalidRequest(f"--format: choose one of {', '.join(FORMATS)}", param="format")
    # A PDF is binary: it goes to a file, never to the terminal.
    if output == "pdf" and path is None:
        raise InvalidRequest("--format pdf needs --output FILE.", param="output")
    if output == "table" and path is not None:
        raise InvalidRequest("--output: choose --format json, csv or pdf.", param="output")
    month_range(month)  # a bad month fails before the database is opened
    with database(config) as (settings, db):
        view = accounts(settings, db).get_tenant(tenant)
        bill = UsageReports(db, settings.billing.currency).invoice(view.id, view.name, month)
    if output == "table":
        _print_invoice(bill)
        return
    body = _render(bill, output)
    if path is None:
        typer.echo(body, nl=False)
        return
    try:
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
    except OSError as error:
        raise InvalidRequest(f"--output: cannot write {path}: {error.strerror}.") from None
    typer.echo(f"wrote {path}", err=True)


def _render(bill: Invoice, output: str) -> str | bytes:
    if output == "pdf":
        from corral.metering.invoice_pdf import invoice_pdf

        return invoice_pdf(bill)
    if output == "csv":
        return bill.as_csv()
    return json.dumps(bill.as_json(), indent=2) + "\n"


@prices.command("set")
def set_price(
    model: Annotated[str, typer.Argument(help="The model's id.")],
    input_price: Annotated[
        str, typer.Option("--input", help="Per million prompt tokens, e.g. 0.50.")
    ],
    output_price: Annotated[
        str, typer.Option("--output", help="Per million completion tokens, e.g. 1.50.")
    ],
    config: ConfigOption = None,
) -> None:
    """Set a model's prices, replacing the config file's, on every server."""
    input_micros, output_micros = amount(input_price, "--input"), amount(output_price, "--output")
    with database(config) as (settings, db):
        if model not in {m.name for m in build_model_configs(settings)}:
            raise NotFound(
                f"No model named '{model}'; `corral models list` shows them.", param="model"
            )
        price = PriceOverrides(db, settings.account_limits).set(model, input_micros, output_micros)
        currency = settings.billing.currency
    typer.echo(
        f"{price.model}: {format_micros(price.input_micros)} in, "
        f"{format_micros(price.output_micros)} out, {currency} per million tokens"
    )


@prices.command("clear")
def clear_price(
    model: Annotated[str, typer.Argument(help="The model's id.")],
    config: ConfigOption = None,
) -> None:
    """Remove a model's price override: it goes back to the config file's prices."""
    with database(config) as (_, db):
        removed = PriceOverrides(db).clear(model)
    if removed:
        typer.echo(f"{model}: override removed; the config file's prices apply")
    else:
        typer.echo(f"{model} had no price override", err=True)


def _print_usage(report: UsageReport) -> None:
    numbers = ("requests", "input", "output", "cost")
    table = make_table(
        Column("day", no_wrap=True), "tenant", "model", "key", *(_number(name) for name in numbers)
    )
    for bucket in report.data:
        for r in bucket.results:
            counts = (r.requests, r.input_tokens, r.output_tokens)
            table.add_row(
                str(bucket.date), r.tenant, r.model, r.api_key_id, *map(str, counts), r.cost
            )
    table.caption = f"total {report.total_cost} {report.currency}"
    Console().print(table)


def _print_invoice(bill: Invoice) -> None:
    title = f"Invoice: {bill.tenant}, {bill.month} ({bill.currency}; prices per million tokens)"
    numbers = ("requests", "input", "output", "in/1M", "out/1M", "amount")
    table = make_table("model", "tier", *(_number(name) for name in numbers), title=title)
    for row in bill.rows():
        table.add_row(*row)
    table.add_section()
    table.add_row(*bill.total_row())
    Console().print(table)


def _number(header: str) -> Column:
    """A right-aligned column that other columns wrap to make room for: amounts stay whole."""
    return Column(header, justify="right", no_wrap=True)
