"""The operator's pages (admin key only): every tenant at a glance (budget, month-to-date
spend, MAU, policy) and the queue of access requests for gated models, approved or denied
with the same service as `POST /admin/access-requests/{id}/approve|deny`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page, redirect
from corral.api.console.web import FormDep, Visitor, VisitorDep
from corral.api.deps import ServicesDep
from corral.errors import InvalidRequest, PermissionDenied
from corral.money import format_micros

router = APIRouter(route_class=PageRoute)
_STATUSES = ("pending", "approved", "denied")
_MAX_REASON = 4000


def _operator(visitor: Visitor) -> None:
    if not visitor.is_admin:
        raise PermissionDenied(
            "This page is the operator's; sign in with the admin key.", code="admin_required"
        )


@router.get("/operator/tenants")
async def tenants_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    _operator(visitor)
    today = dt.datetime.now(dt.UTC).date()
    rows = await services.usage.daily_rows((today.replace(day=1), today))
    spent: dict[str | None, int] = defaultdict(int)
    requests: dict[str | None, int] = defaultdict(int)
    for row in rows:
        spent[row.tenant] += row.cost_micros
        requests[row.tenant] += row.requests
    tenants = [
        {
            "view": view,
            "spent": format_micros(spent[view.name]),
            "requests": requests[view.name],
        }
        for view in await services.accounts.list_tenants()
    ]
    return page(request, "operator_tenants.html", tenants=tenants, currency=services.usage.currency)


@router.get("/operator/access")
async def access_queue(
    request: Request, visitor: VisitorDep, services: ServicesDep, status: str = "pending"
) -> Response:
    _operator(visitor)
    if status not in (*_STATUSES, "all"):
        raise InvalidRequest(f"status is one of {', '.join(_STATUSES)} or all.", param="status")
    wanted = None if status == "all" else status
    views = await services.access.list_requests(status=wanted)
    return page(
        request,
        "operator_access.html",
        requests=list(reversed(views)),
        status=status,
        statuses=(*_STATUSES, "all"),
    )


@router.post("/operator/access/{request_id}/{decision}")
async def decide(
    request_id: str, decision: str, visitor: VisitorDep, form: FormDep, services: ServicesDep
) -> Response:
    _operator(visitor)
    decided = {"approve": "approved", "deny": "denied"}.get(decision)
    if decided is None:
        raise InvalidRequest("A decision is approve or deny.", param="decision")
    reason = form.get("reason", "").strip()[:_MAX_REASON] or None
    await services.access.decide(request_id, decided, reason)
    return redirect("/operator/access")
