"""HTTP routes of the model list (what the caller may use), single model cards, and the
deletion of a tenant's fine-tuned model."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep
from corral.api.models.protocol import ModelCard, ModelDeleted, ModelList
from corral.api.streaming import respond
from corral.finetune.models import not_deletable

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


@router.delete("/v1/models/{model_id:path}", response_model=ModelDeleted)
async def delete_model(model_id: str, ctx: ContextDep, services: ServicesDep) -> Response:
    """Only a fine-tuned model can be deleted, by its owner (or the operator); another
    tenant's is not found, as it is everywhere else."""
    entry = await services.gateway.visible_model(ctx.principal, model_id)
    if not services.gateway.catalog.is_added(entry.id):
        raise not_deletable(model_id)
    deleted = await services.fine_tuned.delete(entry.id, ctx.principal.tenant_id)
    await services.gateway.catalog.refresh()
    return await respond(ModelDeleted(id=deleted.id))
