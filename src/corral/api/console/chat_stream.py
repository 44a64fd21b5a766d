"""The console chat's turn: the conversation so far, sent through the same serving code as
`POST /v1/chat/completions` (so auth, entitlement, budgets, the privacy guard and metering
apply unchanged), streamed to the browser as the API's own SSE frames, and the answer, whole
or cut short by the stop button, kept in the conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import ValidationError

from corral.api.chat.protocol import ChatCompletionRequest
from corral.api.chat.serving import ChatServing
from corral.api.console.conversations import Conversation, Conversations
from corral.api.errors import from_validation_error
from corral.errors import InvalidRequest
from corral.money import cost_micros
from corral.pipeline.gateway import RequestContext
from corral.services import Services

MAX_MESSAGE_CHARS = 32_000


def chat_request(
    conversation: Conversation, turn: dict[str, Any], services: Services
) -> ChatCompletionRequest:
    """The API request this turn makes: system prompt, earlier turns, the new message."""
    content = turn.get("content")
    if not isinstance(content, str) or not content.strip():
        raise InvalidRequest("Write a message first.", param="content")
    if len(content) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(
            f"A message may have at most {MAX_MESSAGE_CHARS} characters.", param="content"
        )
    messages: list[dict[str, Any]] = []
    if conversation.system_prompt:
        messages.append({"role": "system", "content": conversation.system_prompt})
    messages += [{"role": m["role"], "content": m["content"]} for m in conversation.messages]
    messages.append({"role": "user", "content": content})
    body: dict[str, Any] = {
        "model": turn.get("model") or conversation.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    for name in ("temperature", "max_tokens"):
        if turn.get(name) not in (None, ""):
            body[name] = turn[name]
    try:
        return ChatCompletionRequest.model_validate(
            body, context={"schema_limits": services.settings.schema_limits}
        )
    except ValidationError as exc:
        raise from_validation_error(exc) from None


async def recorded(
    frames: AsyncIterator[bytes],
    conversations: Conversations,
    where: tuple[str, str],
    model: str,
    prices: tuple[int, int],
    cached_price: int | None = None,
    *,
    request_id: str,
) -> AsyncIterator[bytes]:
    """The frames as they go out; once they end (or the browser stops them) the answer so far
    is appended to the conversation `where` = (tenant id, conversation id), with the turn's
    request id (what its partner calls are audited under: "what left this machine")."""
    parts: list[str] = []
    usage: dict[str, int] | None = None
    done = False
    try:
        async for frame in frames:
            usage = _read(frame, parts) or usage
            done = done or frame.endswith(b"data: [DONE]\n\n")
            yield frame
    finally:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(parts)}
        message["request_id"] = request_id
        if not done:
            message["stopped"] = True
        if usage is not None:
            message["usage"] = usage
            cached = usage.get("cached_tokens", 0)
            message["cost_micros"] = cost_micros(
                usage["prompt_tokens"], usage["completion_tokens"], prices, cached, cached_price
            )
        await conversations.append(*where, message, model)


def _read(frame: bytes, parts: list[str]) -> dict[str, int] | None:
    """Collect a frame's text into `parts`; its usage, if it carries one."""
    if not frame.startswith(b"data: {"):
        return None
    chunk = orjson.loads(frame[6:])
    for choice in chunk.get("choices") or ():
        text = (choice.get("delta") or {}).get("content")
        if text:
            parts.append(text)
    usage = chunk.get("usage")
    if isinstance(usage, dict) and "prompt_tokens" in usage:
        counts = {k: int(usage[k]) for k in ("prompt_tokens", "completion_tokens")}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        if cached:  # the turn's earlier messages, found in the prefix cache
            counts["cached_tokens"] = int(cached)
        return counts
    return None


async def start_turn(
    ctx: RequestContext,
    services: Services,
    conversations: Conversations,
    conversation: Conversation,
    turn: dict[str, Any],
) -> AsyncIterator[bytes]:
    """Validate and start the turn; the user's message is kept once the model has accepted the
    request (a refused one, e.g. over budget, leaves the conversation as it was)."""
    request = chat_request(conversation, turn, services)
    tenant_id = ctx.principal.tenant_id
    assert tenant_id is not None
    result = await ChatServing(services.gateway).create(ctx, request)
    assert not isinstance(result, dict), "a streamed request streams"
    where = (tenant_id, conversation.id)
    user = request.messages[-1].text()
    await conversations.append(*where, {"role": "user", "content": user}, request.model)
    # A route's name has no one price; the conversation's cost then counts only named models.
    entry = next((e for e in services.gateway.catalog.entries() if e.id == request.model), None)
    prices = await services.gateway.prices(entry) if entry is not None else (0, 0)
    cached_price = entry.cached_price if entry is not None else None
    return recorded(
        result, conversations, where, request.model, prices, cached_price, request_id=ctx.request_id
    )
