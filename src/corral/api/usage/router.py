"""HTTP route of a tenant's own usage."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from corral.api.deps import ServicesDep, TenantContextDep
from corral.api.streaming import respond
from corral.api.usage.protocol import UsageReport, date_span

router = APIRouter()


@router.get("/v1/usage", response_model=UsageReport)
async def usage(
    ctx: TenantContextDep,
    services: ServicesDep,
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    api_key_id: str | None = None,
) -> Response:
    span = date_span(start_date, end_date)
    tenant_id = ctx.principal.tenant_id
    rows = await services.usage.daily_rows(
        span, tenant_id=tenant_id, model=model, key_id=api_key_id
    )
    return await respond(UsageReport.of(rows, services.usage.currency, span, with_tenant=False))
