"""HTTP routes of the assistant tasks and their published schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corral.api.deps import ContextDep, ServicesDep
from corral.api.replay import serve_inference
from corral.api.streaming import respond
from corral.api.tasks.body import task_body
from corral.api.tasks.events import task_events
from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TaskResponse, TipsRequest
from corral.api.tasks.serving import TaskServing
from corral.errors import NotFound
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from corral.tasks.engine import Listener
from corral.tasks.schemas import RESPONSE_SCHEMAS

router = APIRouter(prefix="/v1/tasks")


def _answer_of(task: str) -> dict[int | str, dict[str, Any]]:
    """The documented 200 of a task: its published response schema (a JSON Schema document,
    so its `$schema` stays out of the OpenAPI one)."""
    schema = {k: v for k, v in RESPONSE_SCHEMAS[task].items() if k != "$schema"}
    content = {"application/json": {"schema": schema}}
    return {200: {"description": "The task's answer.", "content": content}}


@router.post("/summarize", response_model=None, responses=_answer_of("summarize"))
async def summarize(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    body: Annotated[SummarizeRequest, Depends(task_body(SummarizeRequest))],
) -> Response:
    return await _serve(http, ctx, services, body, lambda s: s.summarize(ctx, body))


@router.post(
    "/explain-conversation", response_model=None, responses=_answer_of("explain-conversation")
)
async def explain_conversation(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    body: Annotated[ExplainRequest, Depends(task_body(ExplainRequest))],
) -> Response:
    return await _serve(http, ctx, services, body, lambda s: s.explain(ctx, body))


@router.post("/creator-tips", response_model=None, responses=_answer_of("creator-tips"))
async def creator_tips(
    http: Request,
    ctx: ContextDep,
    services: ServicesDep,
    body: Annotated[TipsRequest, Depends(task_body(TipsRequest))],
) -> Response:
    return await _serve(http, ctx, services, body, lambda s: s.tips(ctx, body))


@router.get("/{name}/schema", response_model=TaskResponse)
async def task_schema(name: str, ctx: ContextDep) -> Response:
    schema = RESPONSE_SCHEMAS.get(name)
    if schema is None:
        raise NotFound(
            f"No task named '{name}'; the tasks are {', '.join(RESPONSE_SCHEMAS)}.",
            param="name",
        )
    return await respond(TaskResponse(schema))


Work = Callable[[TaskServing], Awaitable[dict[str, Any]]]


async def _serve(
    http: Request,
    ctx: RequestContext,
    services: Services,
    body: SummarizeRequest | ExplainRequest | TipsRequest,
    work: Work,
) -> Response:
    """The answer as JSON, or with `stream: true` the task's progress as events, then it."""

    def serving(listener: Listener | None = None) -> TaskServing:
        limits = services.settings.task_inputs
        return TaskServing(services.gateway, limits=limits, listener=listener)

    async def answer() -> TaskResponse:
        return TaskResponse(await work(serving()))

    async def stream() -> AsyncIterator[bytes]:
        return await task_events(lambda listener: work(serving(listener)))

    return await serve_inference(http, ctx, services, stream if body.stream else answer, body.model)
