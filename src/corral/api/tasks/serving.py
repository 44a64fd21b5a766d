"""The task endpoints' work: read the input, pick the model, run the task, add `meta`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.pipeline.gateway import Gateway, RequestContext
from corral.tasks.chat_export import parse_chat, parse_messages
from corral.tasks.creator import compute_facts, read_creator_posts
from corral.tasks.engine import (
    InvalidModelOutput,
    ModelCaller,
    Progress,
    TaskMeta,
    detect_language,
)
from corral.tasks.explain import explain
from corral.tasks.feed import read_feed
from corral.tasks.schemas import RESPONSE_SCHEMAS
from corral.tasks.summarize import summarize
from corral.tasks.tips import creator_tips


class TaskServing:
    def __init__(self, gateway: Gateway, progress: Progress | None = None) -> None:
        self.gateway = gateway
        self.progress = progress

    async def summarize(self, ctx: RequestContext, request: SummarizeRequest) -> dict[str, Any]:
        posts = read_feed(json.dumps({"posts": request.posts}).encode())
        language = request.language or detect_language(p.text for p in posts)
        return await self._run(
            ctx,
            request.model,
            language,
            lambda c: summarize(c, posts, request.focus, language),
            "summarize",
        )

    async def explain(self, ctx: RequestContext, request: ExplainRequest) -> dict[str, Any]:
        if request.chat is not None:
            lines = parse_chat(request.chat)
        else:
            lines = parse_messages(request.messages or [])
        language = request.language or detect_language(line.text for line in lines)
        return await self._run(
            ctx,
            request.model,
            language,
            lambda c: explain(c, lines, language),
            "explain-conversation",
        )

    async def tips(self, ctx: RequestContext, request: TipsRequest) -> dict[str, Any]:
        if request.csv is not None:
            posts = read_creator_posts(request.csv.encode(), "csv")
        else:
            posts = read_creator_posts(json.dumps(request.posts).encode(), "json")
        facts = compute_facts(posts)
        language = request.language or detect_language(p.text for p in posts)
        return await self._run(
            ctx, request.model, language, lambda c: creator_tips(c, facts, language), "creator-tips"
        )

    async def _run(
        self,
        ctx: RequestContext,
        model: str,
        language: str,
        task: Callable[[ModelCaller], Awaitable[dict[str, Any]]],
        name: str,
    ) -> dict[str, Any]:
        target = await self.gateway.resolve(ctx, model)
        meta = TaskMeta(model=target.id, language=language)
        caller = ModelCaller(self.gateway, ctx, target, meta, progress=self.progress)
        answer = {**await task(caller), "meta": meta.as_json()}
        import jsonschema  # loaded by the first task: ~3 MB a worker may spare

        try:  # what corral publishes is what it answers, always
            jsonschema.validate(answer, RESPONSE_SCHEMAS[name])
        except jsonschema.ValidationError as exc:
            raise InvalidModelOutput(f"The task's answer broke its schema: {exc.message}") from None
        return answer
