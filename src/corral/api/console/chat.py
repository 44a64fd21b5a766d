"""The chat assistant's pages: conversations, the model picker, and a turn streamed over SSE."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console import markdown
from corral.api.console.chat_stream import start_turn
from corral.api.console.partner_view import what_left
from corral.api.console.render import SECURITY_HEADERS, PageRoute, page, redirect
from corral.api.console.web import (
    ConsoleStores,
    FormDep,
    StoresDep,
    Visitor,
    VisitorDep,
    check_csrf_header,
)
from corral.api.deps import ServicesDep
from corral.api.streaming import respond, until_client_leaves
from corral.errors import InvalidRequest, NotFound
from corral.money import format_micros
from corral.services import Services

router = APIRouter(route_class=PageRoute)


async def model_choices(services: Services, visitor: Any) -> list[dict[str, Any]]:
    """The models this key may see, with what the picker shows of each."""
    gateway = services.gateway
    choices = []
    for entry in await gateway.visible_models(visitor.principal):
        prices = await gateway.prices(entry)
        choices.append(
            {
                "id": entry.id,
                "tier": entry.tier,
                "licence": entry.licence or "none",
                "input": format_micros(prices[0]),
                "output": format_micros(prices[1]),
            }
        )
    return choices


@router.get("/chat")
async def chat_home(
    request: Request, visitor: VisitorDep, services: ServicesDep, stores: StoresDep
) -> Response:
    return await _chat_page(request, visitor, services, stores)


@router.post("/chat/new")
async def new_conversation(
    visitor: VisitorDep, form: FormDep, services: ServicesDep, stores: StoresDep
) -> Response:
    model = form.get("model", "").strip()
    if not model:
        raise InvalidRequest("Pick a model for the conversation.", param="model")
    await services.gateway.visible_model(visitor.principal, model)  # the API's 404 if not
    system = form.get("system_prompt", "").strip()[:4000]
    conversation = await stores.conversations.create(visitor.tenant_id, model, system)
    return redirect(f"/chat/{conversation.id}")


@router.get("/chat/{conversation_id}")
async def conversation_page(
    conversation_id: str,
    request: Request,
    visitor: VisitorDep,
    services: ServicesDep,
    stores: StoresDep,
) -> Response:
    conversation = await stores.conversations.get(visitor.tenant_id, conversation_id)
    cost = sum(m.get("cost_micros", 0) for m in conversation.messages)
    rendered = await asyncio.to_thread(markdown.render_answers, conversation.messages)
    return await _chat_page(
        request,
        visitor,
        services,
        stores,
        conversation=conversation,
        cost=format_micros(cost),
        rendered=rendered,
        left=await what_left(services, visitor.tenant_id, conversation.messages),
    )


async def _chat_page(
    request: Request,
    visitor: Visitor,
    services: Services,
    stores: ConsoleStores,
    **shown: Any,
) -> Response:
    """The chat page: the tenant's recent conversations, the models it may pick, and
    `shown` (the open conversation and its cost, if any)."""
    shown.setdefault("conversation", None)
    return page(
        request,
        "chat.html",
        conversations=await stores.conversations.recent(visitor.tenant_id),
        models=await model_choices(services, visitor),
        currency=services.usage.currency,
        **shown,
    )


@router.post("/chat/{conversation_id}/delete")
async def delete_conversation(
    conversation_id: str, visitor: VisitorDep, _: FormDep, stores: StoresDep
) -> Response:
    await stores.conversations.delete(visitor.tenant_id, conversation_id)
    return redirect("/chat")


@router.get("/chat/{conversation_id}/export")
async def export_conversation(
    conversation_id: str, visitor: VisitorDep, stores: StoresDep
) -> Response:
    conversation = await stores.conversations.get(visitor.tenant_id, conversation_id)
    return Response(
        orjson.dumps(conversation.as_json(), option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{conversation.id}.json"'},
    )


@router.get("/chat/{conversation_id}/messages/{index}")
async def rendered_message(
    conversation_id: str, index: int, visitor: VisitorDep, stores: StoresDep
) -> Response:
    """One kept message as the page shows it: the script asks for the answer it has just
    streamed as text, to show it as markdown (rendered here, never in the browser)."""
    conversation = await stores.conversations.get(visitor.tenant_id, conversation_id)
    if not 0 <= index < len(conversation.messages):
        raise NotFound("No such message (yet).", param="index")
    message = conversation.messages[index]
    [html] = await asyncio.to_thread(markdown.render_answers, [message])
    body = {"role": message["role"], "html": str(html) if html is not None else None}
    return Response(orjson.dumps(body), media_type="application/json", headers=SECURITY_HEADERS)


@router.post("/chat/{conversation_id}/messages")
async def send_message(
    conversation_id: str,
    request: Request,
    visitor: VisitorDep,
    services: ServicesDep,
    stores: StoresDep,
) -> Response:
    """One turn, streamed as the API's SSE frames; the browser's stop button aborts the
    request, and the disconnect cancels generation (billed for what was produced)."""
    check_csrf_header(request, visitor)
    try:
        turn = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InvalidRequest("The message must be a JSON object.", code="invalid_json") from None
    if not isinstance(turn, dict):
        raise InvalidRequest("The message must be a JSON object.", code="invalid_json")
    conversation = await stores.conversations.get(visitor.tenant_id, conversation_id)
    ctx = visitor.context(request)
    work = start_turn(ctx, services, stores.conversations, conversation, turn)
    return await respond(await until_client_leaves(request.receive, work), ctx.cleanups)
