"""HTTP routes of the audit log: a tenant's own events; the operator's view of everyone's."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from corral.api.audit.protocol import AuditEventOut, AuditList
from corral.api.deps import AdminDep, ServicesDep, TenantContextDep
from corral.api.streaming import respond

router = APIRouter()
Limit = Query(default=100, ge=1, le=1000)


@router.get("/v1/audit", response_model=AuditList)
async def own_audit(ctx: TenantContextDep, services: ServicesDep, limit: int = Limit) -> Response:
    views = await services.audit.recent(tenant_id=ctx.principal.tenant_id, limit=limit)
    return await respond(AuditList(data=[AuditEventOut.of(v) for v in views]))


@router.get("/admin/audit", response_model=AuditList)
async def all_audit(_: AdminDep, services: ServicesDep, limit: int = Limit) -> Response:
    views = await services.audit.recent(limit=limit)
    return await respond(AuditList(data=[AuditEventOut.of(v) for v in views]))
