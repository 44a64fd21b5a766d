"""The operator's running pages (admin key only): the model price list, with a price set or
cleared through the same service as `PUT|DELETE /admin/models/{id}/price`; the privacy audit
of partner calls (who, which model, how many values of each kind were masked; what was sent
only where the tenant's retention still keeps it); and health as `/readyz` reports it, with
each model's backend state and queue depth."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.operator import _operator as operator_only
from corral.api.console.partner_view import readable
from corral.api.console.render import PageRoute, page, redirect
from corral.api.console.web import FormDep, VisitorDep
from corral.api.deps import ServicesDep
from corral.api.health import readiness
from corral.errors import InvalidRequest
from corral.money import format_micros, parse_amount

router = APIRouter(route_class=PageRoute)
_AUDIT_SHOWN = 100


@router.get("/operator/prices")
async def prices_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    operator_only(visitor)
    overrides = await services.directory.price_overrides()
    rows = []
    for entry in services.gateway.catalog.entries():
        override = overrides.get(entry.id)
        now = override or entry.prices
        rows.append(
            {
                "model": entry.id,
                "tier": entry.tier,
                "configured": tuple(format_micros(p) for p in entry.prices),
                "now": tuple(format_micros(p) for p in now),
                "overridden": override is not None,
            }
        )
    return page(request, "operator_prices.html", rows=rows, currency=services.usage.currency)


def _amount(form: dict[str, str], field: str) -> int:
    try:
        return parse_amount(form.get(field, ""))
    except ValueError as exc:
        raise InvalidRequest(f"The {field} price: {exc}.", param=field) from None


@router.post("/operator/prices")
async def set_price(visitor: VisitorDep, form: FormDep, services: ServicesDep) -> Response:
    operator_only(visitor)
    model = services.gateway.catalog.get(form.get("model", ""))
    if form.get("action") == "clear":
        await services.prices.clear(model.id)
    else:
        await services.prices.set(model.id, _amount(form, "input"), _amount(form, "output"))
    return redirect("/operator/prices")


@router.get("/operator/audit")
async def audit_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    operator_only(visitor)
    views = await services.audit.recent(limit=_AUDIT_SHOWN)
    kept = await services.audit.bodies([v.id for v in views])
    bodies = {event_id: readable(sent) for event_id, (sent, _) in kept.items()}
    return page(request, "operator_audit.html", events=views, bodies=bodies, **_summary(views))


def _summary(views: list[Any]) -> dict[str, Any]:
    """Calls and masked values per tenant and model, and masked values per kind."""
    calls: Counter[tuple[str, str]] = Counter()
    masked: dict[tuple[str, str], int] = defaultdict(int)
    kinds: Counter[str] = Counter()
    for view in views:
        who = (view.tenant or "(none)", view.model)
        calls[who] += 1
        masked[who] += sum(view.pii.values())
        kinds.update(view.pii)
    return {
        "by_caller": [(t, m, n, masked[(t, m)]) for (t, m), n in sorted(calls.items())],
        "kinds": sorted(kinds.items()),
    }


@router.get("/operator/health")
async def health_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    operator_only(visitor)
    report = await readiness(services)
    models = []
    for entry in services.gateway.catalog.entries():
        health = entry.backend.health()
        models.append(
            {
                "id": entry.id,
                "tier": entry.tier,
                "ready": health.ready,
                "detail": report["models"].get(entry.id, health.detail),
                "queue": health.queue_depth,
            }
        )
    return page(request, "operator_health.html", report=report, models=models)
