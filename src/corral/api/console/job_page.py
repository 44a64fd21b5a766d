"""A fine-tuning job's page: its status and hyperparameters, its events, its loss curve
(server-rendered SVG from its metric events), and the model it made with that model's
lineage. Read with the same service as `GET /v1/fine_tuning/jobs/{id}` and `/events`, for the
signed-in tenant only: another tenant's job id answers 404 as it does over the API."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console import loss_curve
from corral.api.console.render import PageRoute, page
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.api.fine_tuning.protocol import FineTuningJob
from corral.finetune import service

router = APIRouter(route_class=PageRoute)
_EVENTS_SHOWN = 50


def when(epoch: int | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M")


@router.get("/fine-tuning/{job_id}")
async def job_page(
    job_id: str, request: Request, visitor: VisitorDep, services: ServicesDep
) -> Response:
    tenant_id = visitor.tenant_id
    job = await service.get(services.jobs, tenant_id, job_id)
    events = await service.all_events(services.jobs, tenant_id, job_id)
    result = job.result or {}
    model_id = result.get("fine_tuned_model")
    live = model_id is not None and any(m.id == model_id for m in await services.fine_tuned.live())
    curve = loss_curve.loss_curve(loss_curve.metrics_of(events))
    return page(
        request,
        "fine_tuning_job.html",
        job=FineTuningJob.of(job, dt.datetime.now(dt.UTC)),
        events=list(reversed(events))[:_EVENTS_SHOWN],
        total_events=len(events),
        curve=curve,
        axes=loss_curve.AXES,
        chart_width=loss_curve.WIDTH,
        chart_height=loss_curve.HEIGHT,
        lineage=result.get("lineage"),
        model_live=live,
        when=when,
        event_time=lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S"),
    )
