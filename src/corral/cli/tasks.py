"""`corral summarize | explain | tips`: the assistant tasks on a file.

By default the task runs in this process on the local catalog (same `CORRAL_HOME`, no server
needed), with a progress bar over the chunks of a long input; with `--base-url` (or
`CORRAL_BASE_URL`) it asks a running server. `--json` prints exactly the API's JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from pydantic import BaseModel, SecretStr, ValidationError
from rich.console import Console
from rich.progress import Progress

from corral.api.errors import from_validation_error
from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.api.tasks.serving import TaskServing
from corral.cli.common import ConfigOption, settings_from
from corral.errors import BackendFailed, InvalidRequest, PayloadTooLarge
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.settings import EMBEDDED_MODEL_NAME, Settings
from corral.tasks.engine import TaskEvent
from corral.tasks.feed import load_json

Model = Annotated[str, typer.Option(help="Model id (or route).")]
Language = Annotated[str | None, typer.Option(help="en | de (default: the input's).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON object.")]
BaseUrl = Annotated[
    str | None,
    typer.Option(help="A running corral, e.g. http://127.0.0.1:8080 (or CORRAL_BASE_URL)."),
]
ApiKey = Annotated[str | None, typer.Option(help="Key for --base-url (or CORRAL_API_KEY).")]
InputFile = Annotated[Path, typer.Argument(help="The input file.")]
Run = Callable[[TaskServing, RequestContext], Awaitable[dict[str, Any]]]
err = Console(stderr=True)


def summarize(
    path: InputFile,
    model: Model = EMBEDDED_MODEL_NAME,
    focus: Annotated[str | None, typer.Option(help="What to pay attention to.")] = None,
    language: Language = None,
    mode: Annotated[
        str, typer.Option(help="fast (code groups, the model titles) | thorough (reads all).")
    ] = "fast",
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    config: ConfigOption = None,
) -> None:
    """Summarise the posts of a feed (a JSON list of posts) into topics citing the posts."""
    settings = settings_from(config)
    items = _post_list(_read(path, settings), path)
    given = {"model": model, "focus": focus, "language": language, "mode": mode}
    body = _request(SummarizeRequest, posts=items, **given)
    _run(settings, "summarize", body, lambda s, c: s.summarize(c, body), as_json, base_url, api_key)


def explain(
    path: InputFile,
    model: Model = EMBEDDED_MODEL_NAME,
    language: Language = None,
    mode: Annotated[
        str, typer.Option(help="fast (rules find, the model phrases) | thorough (reads all).")
    ] = "fast",
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    config: ConfigOption = None,
) -> None:
    """Explain a conversation: a WhatsApp export (.txt) or JSON messages."""
    settings = settings_from(config)
    data = _read(path, settings)
    given: dict[str, Any] = {"model": model, "language": language, "mode": mode}
    if path.suffix.lower() == ".json":
        body = _request(ExplainRequest, messages=_json(data, path), **given)
    else:
        body = _request(ExplainRequest, chat=_text(data, path), **given)
    run: Run = lambda s, c: s.explain(c, body)  # noqa: E731
    _run(settings, "explain-conversation", body, run, as_json, base_url, api_key)


def tips(
    path: InputFile,
    model: Model = EMBEDDED_MODEL_NAME,
    language: Language = None,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    config: ConfigOption = None,
) -> None:
    """Tips for a creator from their posts' engagement (CSV or JSON)."""
    settings = settings_from(config)
    data = _read(path, settings)
    if path.suffix.lower() == ".json":
        body = _request(TipsRequest, model=model, posts=_post_list(data, path), language=language)
    else:
        body = _request(TipsRequest, model=model, csv=_text(data, path), language=language)
    _run(settings, "creator-tips", body, lambda s, c: s.tips(c, body), as_json, base_url, api_key)


# -- running -------------------------------------------------------------------------------------


def _run(
    settings: Settings,
    name: str,
    body: BaseModel,
    run: Run,
    as_json: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    base_url = base_url or os.environ.get("CORRAL_BASE_URL")
    if base_url:
        key = api_key or os.environ.get("CORRAL_API_KEY") or ""
        answer = _remote(base_url, key, name, body)
    else:
        answer = asyncio.run(_local(settings, run))
    if as_json:
        typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        Console().print_json(json.dumps(answer, ensure_ascii=False))


async def _local(settings: Settings, run: Run) -> dict[str, Any]:
    from corral.observability.logging import new_request_id
    from corral.services import build_services

    services = build_services(settings, SecretStr(secrets.token_hex(16)))
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("starting", total=None)

            def show(event: TaskEvent) -> None:  # the stage, and its chunks where it has some
                total = event.chunks or None
                bar.update(task, description=event.stage, completed=event.chunk, total=total)

            serving = TaskServing(
                services.gateway, limits=services.settings.task_inputs, listener=show
            )
            return await run(serving, RequestContext(new_request_id(), ADMIN))
    finally:
        await services.aclose()


def _remote(base_url: str, key: str, name: str, body: BaseModel) -> dict[str, Any]:
    url = base_url.rstrip("/").removesuffix("/v1") + f"/v1/tasks/{name}"
    with err.status(f"asking {url} ..."):
        try:
            response = httpx.post(
                url,
                content=body.model_dump_json(exclude_none=True),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                timeout=3600,
            )
        except httpx.HTTPError as exc:
            raise BackendFailed(f"cannot reach {url}: {exc}") from None
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise InvalidRequest(f"the server answered {response.status_code}: {message}")
    answer: dict[str, Any] = response.json()
    return answer


RequestT = TypeVar("RequestT", bound=BaseModel)


def _request(wire: type[RequestT], /, **fields: Any) -> RequestT:
    try:
        return wire.model_validate(fields)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _read(path: Path, settings: Settings) -> bytes:
    if not path.is_file():
        raise InvalidRequest(f"no such file: {path}")
    limit = settings.server.max_body_bytes
    if path.stat().st_size > limit:
        raise PayloadTooLarge(
            f"{path} is {path.stat().st_size:,} bytes; the limit is {limit:,} "
            "(server.max_body_bytes)."
        )
    return path.read_bytes()


def _text(data: bytes, path: Path) -> str:
    if b"\x00" in data:
        raise InvalidRequest(f"{path} is a binary file, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{path} is not UTF-8 text (byte {exc.start}).") from None


def _post_list(data: bytes, path: Path) -> list[Any]:
    """A JSON file of posts: a list, or an object holding the list under "posts"."""
    posts = _json(data, path)
    items = posts.get("posts") if isinstance(posts, dict) else posts
    if not isinstance(items, list):
        raise InvalidRequest(f"{path}: expected a JSON list of posts (or {{'posts': [...]}}).")
    return items


def _json(data: bytes, path: Path) -> Any:
    try:
        return load_json(_text(data, path))
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}).") from None
