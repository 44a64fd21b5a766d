"""The task endpoints' work: pick the model, read the input, run the task, add `meta`.

The model is resolved first (the caller's entitlement is cheap, reading an input is not); the
input is then read in a worker thread, within `task_inputs`, so that a large one does not hold
up the event loop and every other request with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.errors import InvalidModelOutput
from corral.pipeline.gateway import Gateway, RequestContext, Target
from corral.tasks.chat_export import parse_chat
from corral.tasks.chat_messages import parse_messages
from corral.tasks.creator import creator_csv_posts, creator_json_posts
from corral.tasks.creator_facts import compute_facts
from corral.tasks.engine import (
    Listener,
    ModelCaller,
    Progress,
    TaskEvent,
    TaskMeta,
    detect_language,
)
from corral.tasks.explain import explain
from corral.tasks.explain_fast import explain_fast
from corral.tasks.feed import feed_posts
from corral.tasks.inputs import ChatMessageLine, CreatorPost, Fact, Post
from corral.tasks.limits import TaskInputLimits
from corral.tasks.schemas import RESPONSE_SCHEMAS
from corral.tasks.summarize import summarize
from corral.tasks.summarize_fast import summarize_fast
from corral.tasks.tips import creator_tips


class TaskServing:
    def __init__(
        self,
        gateway: Gateway,
        progress: Progress | None = None,
        limits: TaskInputLimits | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.gateway = gateway
        self.progress = progress
        self.limits = limits or TaskInputLimits()
        self.listener = listener
        """Hears each stage and chunk (`TaskEvent`): the streamed progress of a request."""

    async def summarize(self, ctx: RequestContext, request: SummarizeRequest) -> dict[str, Any]:
        target = await self.gateway.resolve(ctx, request.model)
        posts, language = await asyncio.to_thread(_feed, request, self.limits)
        how = summarize if request.mode == "thorough" else summarize_fast
        return await self._run(
            ctx,
            target,
            language,
            lambda c: how(c, posts, request.focus, language),
            "summarize",
        )

    async def explain(self, ctx: RequestContext, request: ExplainRequest) -> dict[str, Any]:
        target = await self.gateway.resolve(ctx, request.model)
        lines, language = await asyncio.to_thread(_conversation, request, self.limits)
        how = explain if request.mode == "thorough" else explain_fast
        return await self._run(
            ctx,
            target,
            language,
            lambda c: how(c, lines, language),
            "explain-conversation",
        )

    async def tips(self, ctx: RequestContext, request: TipsRequest) -> dict[str, Any]:
        target = await self.gateway.resolve(ctx, request.model)
        facts, language = await asyncio.to_thread(_history, request, self.limits)
        return await self._run(
            ctx, target, language, lambda c: creator_tips(c, facts, language), "creator-tips"
        )

    async def _run(
        self,
        ctx: RequestContext,
        target: Target,
        language: str,
        task: Callable[[ModelCaller], Awaitable[dict[str, Any]]],
        name: str,
    ) -> dict[str, Any]:
        meta = TaskMeta(model=target.id, language=language)
        caller = ModelCaller(
            self.gateway, ctx, target, meta, progress=self.progress, listener=self.listener
        )
        if self.listener is not None:  # the input is read and the model is the caller's
            self.listener(TaskEvent("read"))
        answer = {**await task(caller), "meta": meta.as_json()}
        import jsonschema  # loaded by the first task: memory a worker without tasks spares

        try:  # what corral publishes is what it answers, always
            jsonschema.validate(answer, RESPONSE_SCHEMAS[name])
        except jsonschema.ValidationError as exc:
            raise InvalidModelOutput(f"The task's answer broke its schema: {exc.message}") from None
        return answer


# The readers below run in a worker thread: the input, then its language.


def _feed(request: SummarizeRequest, limits: TaskInputLimits) -> tuple[list[Post], str]:
    posts = feed_posts(request.posts, limits)
    return posts, request.language or detect_language(p.text for p in posts)


def _conversation(
    request: ExplainRequest, limits: TaskInputLimits
) -> tuple[list[ChatMessageLine], str]:
    if request.chat is not None:
        lines = parse_chat(request.chat, limits)
    else:
        lines = parse_messages(request.messages or [], limits)
    return lines, request.language or detect_language(line.text for line in lines)


def _history(request: TipsRequest, limits: TaskInputLimits) -> tuple[list[Fact], str]:
    posts: list[CreatorPost]
    if request.csv is not None:
        posts = creator_csv_posts(request.csv, limits)
    else:
        posts = creator_json_posts(request.posts or [], limits)
    language = request.language or detect_language(p.text for p in posts)
    return compute_facts(posts), language
