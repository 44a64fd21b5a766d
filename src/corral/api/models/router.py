"""HTTP routes of the model list (what the caller may use) and single model cards."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep
from corral.api.models.protocol import ModelCard, ModelList
from corral.api.streaming import respond

router = APIRouter()


@router.get("/v1/models", response_model=ModelList)
async def list_models(ctx: ContextDep, services: ServicesDep) -> Response:
    gateway = services.gateway
    entries = await gateway.visible_models(ctx.principal)
    cards = [ModelCard.of(e, await gateway.prices(e)) for e in entries]
    return await respond(ModelList(data=cards))


@router.get("/v1/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, ctx: ContextDep, services: ServicesDep) -> Response:
    gateway = services.gateway
    entry = await gateway.visible_model(ctx.principal, model_id)
    return await respond(ModelCard.of(entry, await gateway.prices(entry)))
