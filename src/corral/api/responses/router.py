"""HTTP routes of the Responses API: parse, hand to `corral.responses`, respond."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep, inference_call
from corral.api.openapi import request_body
from corral.api.replay import serve_inference
from corral.api.responses.protocol import (
    DeletedResponse,
    InputItemList,
    ResponseObject,
    ResponsesRequest,
)
from corral.api.streaming import respond
from corral.backends.base import SamplingParams, ToolSpec
from corral.responses.service import ResponseCall, ResponsesService, owner
from corral.responses.store import ResponseStore

router = APIRouter(prefix="/v1/responses")


# The route parses its own body, as the other inference routes: the document learns it here.
@router.post(
    "",
    response_model=ResponseObject,
    openapi_extra={"requestBody": request_body(ResponsesRequest)},
)
async def create_response(http: Request) -> Response:
    call = await inference_call(http, ResponsesRequest)
    ctx = call.ctx
    service = ResponsesService(call.services.gateway, ResponseStore(call.services.db))
    body = call.body
    return await serve_inference(
        http,
        ctx,
        call.services,
        lambda: service.create(ctx, response_call(body), stream=body.stream),
        body.model,
    )


@router.get("/{response_id}", response_model=ResponseObject)
async def get_response(response_id: str, ctx: ContextDep, services: ServicesDep) -> Response:
    stored = await ResponseStore(services.db).get(owner(ctx), response_id)
    return await respond(stored.response)


@router.delete("/{response_id}", response_model=DeletedResponse)
async def delete_response(
    response_id: str, ctx: ContextDep, services: ServicesDep
) -> DeletedResponse:
    await ResponseStore(services.db).delete(owner(ctx), response_id)
    return DeletedResponse(id=response_id)


@router.get("/{response_id}/input_items", response_model=InputItemList)
async def list_input_items(
    response_id: str,
    ctx: ContextDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    after: str | None = None,
) -> InputItemList:
    store = ResponseStore(services.db)
    page, more = await store.input_items(owner(ctx), response_id, limit, order, after)
    return InputItemList(
        data=page,
        first_id=page[0]["id"] if page else None,
        last_id=page[-1]["id"] if page else None,
        has_more=more,
    )


def response_call(body: ResponsesRequest) -> ResponseCall:
    tools = tuple(ToolSpec(t.name, t.description, t.parameters) for t in body.tools or [])
    params = SamplingParams(
        max_tokens=body.max_output_tokens,
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        json_schema=body.json_schema(),
        tools=tools,
        tool_choice=body.chosen_tool(),
    )
    given: str | list[dict[str, Any]] = (
        body.input
        if isinstance(body.input, str)
        else [item.model_dump(by_alias=True, exclude_none=True) for item in body.input]
    )
    echo: dict[str, Any] = {
        "tools": [t.model_dump(exclude_none=True) for t in body.tools or []],
        "metadata": body.metadata or {},
        "user": body.user,
    }
    if body.tool_choice is not None:
        choice = body.tool_choice
        echo["tool_choice"] = choice if isinstance(choice, str) else choice.model_dump()
    if body.text is not None:
        echo["text"] = body.text.model_dump(by_alias=True, exclude_none=True)
    return ResponseCall(
        model=body.model,
        input=given,
        params=params,
        instructions=body.instructions,
        previous_response_id=body.previous_response_id,
        store=body.store,
        echo=echo,
    )
