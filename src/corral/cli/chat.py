"""`corral chat`: talk to a model, one-shot or interactively, in-process or via a server."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, cast

import typer

from corral.cli.common import ConfigOption, settings_from
from corral.settings import EMBEDDED_MODEL_NAME

Send = Callable[[list[dict[str, str]]], str]


def chat(
    message: Annotated[
        str | None, typer.Argument(help="Ask once and exit; omit to converse.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model id.")] = EMBEDDED_MODEL_NAME,
    system: Annotated[str | None, typer.Option(help="System prompt.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Limit per answer.")] = 512,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.7,
    base_url: Annotated[
        str | None, typer.Option(help="A running corral, e.g. http://127.0.0.1:8080/v1.")
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="Key for --base-url.")] = None,
    config: ConfigOption = None,
) -> None:
    """Chat with a model. Without --base-url the model runs inside this process."""
    base_url = base_url or os.environ.get("CORRAL_BASE_URL")
    api_key = api_key or os.environ.get("CORRAL_API_KEY")
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    if base_url:
        send = _remote(base_url, api_key, model, max_tokens, temperature)
        _converse(send, history, message)
        return
    asyncio.run(_local_session(config, model, max_tokens, temperature, history, message))


def _converse(send: Send, history: list[dict[str, str]], message: str | None) -> None:
    if message is not None:
        history.append({"role": "user", "content": message})
        send(history)
        return
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            return
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        history.append({"role": "assistant", "content": send(history)})


def _remote(base_url: str, api_key: str | None, model: str, max_tokens: int, temp: float) -> Send:
    import openai
    from openai.types.chat import ChatCompletionChunk

    client = openai.OpenAI(base_url=base_url, api_key=api_key or "missing")

    def send(history: list[dict[str, str]]) -> str:
        stream = client.chat.completions.create(
            model=model,
            messages=history,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=temp,
            stream=True,
        )
        parts = []
        for chunk in stream:
            chunk = cast(ChatCompletionChunk, chunk)
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                typer.echo(parts[-1], nl=False)
        typer.echo()
        return "".join(parts)

    return send


async def _local_session(
    config: Path | None,
    model_id: str,
    max_tokens: int,
    temp: float,
    history: list[dict[str, str]],
    message: str | None,
) -> None:
    from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams, TextDelta
    from corral.catalog import build_model_configs
    from corral.errors import ModelNotFound
    from corral.routing import replicas

    settings = settings_from(config)
    configs = {c.name: c for c in build_model_configs(settings)}
    if model_id not in configs:
        raise ModelNotFound(f"no local model named '{model_id}'; see `corral models list`")
    backend = replicas.build(configs[model_id]).backend
    loop = asyncio.get_running_loop()
    params = SamplingParams(max_tokens=max_tokens, temperature=temp)

    async def ask(turns: list[dict[str, str]]) -> str:
        messages = tuple(ChatMessage(t["role"], t["content"]) for t in turns)  # type: ignore[arg-type]
        events = await backend.stream(GenerationRequest("req_cli", params, messages=messages))
        parts = []
        async for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
                typer.echo(event.text, nl=False)
        typer.echo()
        return "".join(parts)

    def send(turns: list[dict[str, str]]) -> str:
        return asyncio.run_coroutine_threadsafe(ask(turns), loop).result()

    try:
        await asyncio.to_thread(_converse, send, history, message)
    finally:
        await backend.close()
