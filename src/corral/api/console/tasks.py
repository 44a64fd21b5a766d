"""The assistant tasks page: pick a task and a model, paste the input or pick a file, and see
the answer with its citations linked to the cited messages or posts. The work is the API's
`TaskServing` under the visitor's own principal, so entitlement, rate limits, budgets, the
privacy guard and metering are those of `/v1/tasks/...`, unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.chat import model_choices
from corral.api.console.render import PageRoute, page
from corral.api.console.task_input import TASKS, task_form, task_request
from corral.api.console.web import VisitorDep
from corral.api.deps import ServicesDep
from corral.api.streaming import until_client_leaves
from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest
from corral.api.tasks.serving import TaskServing
from corral.services import Services
from corral.tasks.chat_export import parse_chat
from corral.tasks.feed import feed_posts
from corral.tasks.limits import TaskInputLimits

router = APIRouter(route_class=PageRoute)
_SHOWN_CHARS = 300
"""A cited message or post is shown up to this long beside the answer."""


@router.get("/tasks")
async def tasks_page(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    _ = visitor.tenant_id  # a tenant's page: the operator is told so
    return page(request, "tasks.html", **await _choices(services, visitor))


@router.post("/tasks")
async def run_task(request: Request, visitor: VisitorDep, services: ServicesDep) -> Response:
    _ = visitor.tenant_id
    form = await task_form(request, visitor)
    body = task_request(form)
    ctx = visitor.context(request)
    limits = services.settings.task_inputs
    serving = TaskServing(services.gateway, limits=limits)
    if isinstance(body, ExplainRequest):
        work: Any = serving.explain(ctx, body)
    elif isinstance(body, SummarizeRequest):
        work = serving.summarize(ctx, body)
    else:
        work = serving.tips(ctx, body)
    answer = await until_client_leaves(request.receive, work)
    cited = await asyncio.to_thread(_cited, body, answer, limits)
    return page(
        request,
        "tasks.html",
        task=form.task,
        answer=answer,
        cited=cited,
        chosen=form.fields,
        **await _choices(services, visitor),
    )


async def _choices(services: Services, visitor: Any) -> dict[str, Any]:
    return {"tasks": TASKS, "models": await model_choices(services, visitor)}


def _cited(body: Any, answer: dict[str, Any], limits: TaskInputLimits) -> list[dict[str, str]]:
    """The messages or posts the answer cites, in input order, each with the anchor its
    citations link to (creator tips cite facts, which the answer carries itself)."""
    if isinstance(body, ExplainRequest) and body.chat is not None:
        wanted = {
            str(i)
            for part in ("decisions", "open_questions")
            for item in answer.get(part, [])
            for i in item["message_ids"]
        }
        lines = parse_chat(body.chat, limits)
        return [
            _shown(f"msg-{m.id}", f"#{m.id} {m.author or 'system'}", m.text)
            for m in lines
            if str(m.id) in wanted
        ]
    if isinstance(body, SummarizeRequest):
        wanted = {
            i for topic in answer.get("topics", []) for p in topic["points"] for i in p["post_ids"]
        }
        posts = feed_posts(body.posts, limits)
        return [
            _shown(f"post-{p.id}", f"{p.id} {p.author}", p.text) for p in posts if p.id in wanted
        ]
    return []


def _shown(anchor: str, label: str, text: str) -> dict[str, str]:
    short = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
    return {"anchor": anchor, "label": label, "text": short}
