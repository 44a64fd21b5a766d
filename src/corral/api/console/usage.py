"""The usage page: month-to-date spend against budget, per model, a daily chart, and the
month's invoice as CSV."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page
from corral.api.console.usage_view import CHART_HEIGHT, CHART_WIDTH, summarize
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.metering.usage import month_range

router = APIRouter(route_class=PageRoute)


@router.get("/usage")
async def usage_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    """A tenant sees its own month; the operator sees every tenant's together."""
    today = dt.datetime.now(dt.UTC).date()
    first = today.replace(day=1)
    tenant_id = None if visitor.is_admin else visitor.tenant_id
    rows = await services.usage.daily_rows((first, today), tenant_id=tenant_id)
    budget = None
    if tenant_id is not None:
        tenant = await services.directory.tenant(tenant_id)
        budget = tenant.budget_micros if tenant is not None else None
    # The chart spans the whole month: the days still to come are its empty right-hand side.
    _, last = month_range(first.strftime("%Y-%m"))
    return page(
        request,
        "usage.html",
        summary=summarize(rows, first, last, budget),
        month=first.strftime("%Y-%m"),
        currency=services.usage.currency,
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
    )


@router.get("/usage/invoice.csv")
async def invoice_csv(visitor: VisitorDep, services: ServicesDep, month: str) -> Response:
    """The tenant's invoice for `month` (YYYY-MM), the same CSV as `corral invoice`."""
    tenant = await services.directory.tenant(visitor.tenant_id)
    name = tenant.name if tenant is not None else visitor.tenant_id
    bill = await services.usage.monthly_invoice(visitor.tenant_id, name, month)
    return Response(
        bill.as_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="invoice-{name}-{month}.csv"'},
    )
