"""Read-only pages of a tenant's fine-tuning jobs and evaluations: the same queue, stores and
wire objects as `/v1/fine_tuning/jobs` and `/v1/evals` (a job's row is `FineTuningJob.of`, a
run's `RunObject.of`), listed for the signed-in tenant only."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import PageRoute, page
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.api.evals.protocol import EvalObject, RunObject
from corral.api.fine_tuning.protocol import FineTuningJob
from corral.evals.runner import KIND as EVAL_RUN
from corral.finetune.params import KIND as FINE_TUNE

router = APIRouter(route_class=PageRoute)
_LISTED = 100


def _when(epoch: int | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M")


@router.get("/fine-tuning")
async def fine_tuning_page(
    request: Request, visitor: VisitorDep, services: ServicesDep
) -> Response:
    jobs = await services.jobs.list_jobs(visitor.tenant_id, kind=FINE_TUNE, limit=_LISTED)
    now = dt.datetime.now(dt.UTC)
    return page(
        request, "fine_tuning.html", jobs=[FineTuningJob.of(job, now) for job in jobs], when=_when
    )


@router.get("/evals")
async def evals_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    tenant_id = visitor.tenant_id
    evals = [EvalObject.of(r) for r in await services.evals.list_evals(tenant_id, _LISTED)]
    jobs = await services.jobs.list_jobs(tenant_id, kind=EVAL_RUN, limit=_LISTED)
    now = dt.datetime.now(dt.UTC)
    names = {e.id: e.name for e in evals}
    return page(
        request,
        "evals.html",
        evals=evals,
        runs=[RunObject.of(job, now) for job in jobs],
        names=names,
        when=_when,
    )
