"""The usage page: a month's spend against budget (this month's by default, or one of the
eleven before it), per model and per key, a daily chart for all or one model and/or key,
and that month's invoice as CSV or PDF."""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page
from corral.api.console.usage_view import (
    CHART_HEIGHT,
    CHART_WIDTH,
    earlier_months,
    summarize,
)
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.errors import InvalidRequest
from corral.metering.invoice_pdf import invoice_pdf
from corral.metering.usage import Invoice, month_range

router = APIRouter(route_class=PageRoute)


@router.get("/usage")
async def usage_page(
    request: Request,
    visitor: VisitorDep,
    services: ServicesDep,
    month: str | None = None,
    model: str | None = None,
    key: str | None = None,
) -> Response:
    """A tenant sees its own month; the operator sees every tenant's together."""
    today = dt.datetime.now(dt.UTC).date()
    months = earlier_months(today)
    month = month or months[0]
    if month not in months:
        raise InvalidRequest(
            f"'{month}' is not one of the last {len(months)} months (YYYY-MM).", param="month"
        )
    # The chart spans the whole month: the days still to come are its empty right-hand side.
    first, last = month_range(month)
    tenant_id = None if visitor.is_admin else visitor.tenant_id
    rows = await services.usage.daily_rows((first, min(last, today)), tenant_id=tenant_id)
    budget = None
    if tenant_id is not None:
        tenant = await services.directory.tenant(tenant_id)
        budget = tenant.budget_micros if tenant is not None else None
    summary = summarize(rows, first, last, budget, model=model or None, key_id=key or None)
    return page(
        request,
        "usage.html",
        summary=summary,
        month=month,
        months=months,
        current=month == months[0],
        chosen={"model": model or "", "key": key or ""},
        currency=services.usage.currency,
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
    )


@router.get("/usage/invoice.csv")
async def invoice_csv(visitor: VisitorDep, services: ServicesDep, month: str) -> Response:
    """The tenant's invoice for `month` (YYYY-MM), the same CSV as `corral invoice`."""
    bill = await _invoice(visitor, services, month)
    return _download(bill.as_csv(), "text/csv; charset=utf-8", bill, "csv")


@router.get("/usage/invoice.pdf")
async def invoice_pdf_download(visitor: VisitorDep, services: ServicesDep, month: str) -> Response:
    """The same invoice as PDF: the CSV's lines and total, as `corral invoice --format pdf`."""
    bill = await _invoice(visitor, services, month)
    # In a worker thread: the first PDF imports fpdf (most of a second), each takes a few ms.
    body = await asyncio.to_thread(invoice_pdf, bill)
    return _download(body, "application/pdf", bill, "pdf")


async def _invoice(visitor: VisitorDep, services: ServicesDep, month: str) -> Invoice:
    """The signed-in tenant's own invoice: the tenant comes from the session, never the URL."""
    tenant = await services.directory.tenant(visitor.tenant_id)
    name = tenant.name if tenant is not None else visitor.tenant_id
    return await services.usage.monthly_invoice(visitor.tenant_id, name, month)


def _download(body: str | bytes, media_type: str, bill: Invoice, extension: str) -> Response:
    filename = f"invoice-{bill.tenant}-{bill.month}.{extension}"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
