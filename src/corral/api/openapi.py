"""The served OpenAPI document: what each route really takes and really answers.

Every route parses its own JSON body (`deps.JsonBody`, or `deps.inference_call` on the hot
path), so FastAPI sees no body parameter and would document none; and its default 422 entries
describe validation errors corral never sends (they are 400s in OpenAI's envelope). This module
rewrites FastAPI's document once, when it is first asked for: the request body of each route
from its pydantic protocol model, the bearer key it needs, and the error statuses it can
answer, each in OpenAI's envelope. Serving requests is untouched: only `/openapi.json` reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel

from corral.api.deps import JsonBody, admin_context, authenticate, tenant_context

_REF = "#/components/schemas/{model}"
_ERROR = "ErrorResponse"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

_DESCRIPTIONS = {
    "400": "The request is malformed or a parameter is invalid (`param` names it).",
    "401": "No API key, or one that is unknown or revoked.",
    "403": "The key may not use this route or model.",
    "404": "What the path names does not exist (or is not visible to this key).",
    "409": "An idempotency key in use, or a name already taken.",
    "413": "The request body is larger than server.max_body_bytes (an upload: files.max_bytes).",
    "429": "A rate limit or the tenant's budget was reached.",
    "502": "The model's backend failed.",
    "503": "The model is overloaded or storage is unavailable; retry later.",
    "504": "The model's backend did not answer in time.",
}
_INFERENCE_ERRORS = ("403", "404", "409", "429", "502", "503", "504")

_ERROR_SCHEMA: dict[str, Any] = {
    "title": _ERROR,
    "description": "OpenAI's error envelope.",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "code": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        }
    },
}


def request_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """An operation's `requestBody`: `model`'s JSON schema, its `$defs` left for `document` to
    move into the components."""
    schema = model.model_json_schema(ref_template=_REF)
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def install(api: FastAPI, routers: Iterable[APIRouter], inference: Iterable[APIRouter]) -> None:
    """Serve `document(...)` of `api`, which includes `routers`, as `/openapi.json`; the routes
    of `inference` run models (rate limits, budgets, backends) and document those errors too."""
    routes = list(_routes(routers))
    inference_paths = {
        route.path for route in _routes(inference) if "POST" in (route.methods or ())
    }

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = document(api, routes, inference_paths)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def document(api: FastAPI, routes: list[APIRoute], inference_paths: set[str]) -> dict[str, Any]:
    doc = get_openapi(title=api.title, version=api.version, routes=api.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas[_ERROR] = _ERROR_SCHEMA
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for route in routes:
        for method in route.methods or ():
            operation = doc["paths"][route.path_format][method.lower()]
            _describe(operation, route, route.path in inference_paths, schemas)
    _describe_operational(doc["paths"])
    _describe_streams(doc["paths"])
    return doc


STREAMING_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/responses")
"""Routes that answer `stream: true` with server-sent events instead of JSON."""


_SSE_EVENT = {
    "type": "object",
    "description": "One server-sent event: `data` is a JSON chunk (or `[DONE]` for the chat and "
    "completions streams), `event` its type name on /v1/responses.",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
}


def _describe_streams(paths: dict[str, Any]) -> None:
    for path in STREAMING_PATHS:
        answer = paths[path]["post"]["responses"]["200"]
        answer.setdefault("content", {})["text/event-stream"] = {"schema": _SSE_EVENT}


def _routes(routers: Iterable[APIRouter]) -> Iterator[APIRoute]:
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                yield route


def _describe(
    operation: dict[str, Any], route: APIRoute, inference: bool, schemas: dict[str, Any]
) -> None:
    operation["responses"].pop("422", None)
    calls = set(_calls(route.dependant))
    body = operation.get("requestBody") or _body(calls)
    if body is not None:
        operation["requestBody"] = _hoist_defs(body, schemas)
    errors: set[str] = set()
    if authenticate in calls or inference:
        operation["security"] = [{"bearer": []}]
        errors.add("401")
    if admin_context in calls or tenant_context in calls:
        errors.add("403")
    if body is not None or route.dependant.query_params or route.dependant.path_params:
        errors.update(("400", "404"))  # a tenant, key, model or request named may not exist
    if body is not None:
        errors.add("413")
        if "POST" in (route.methods or ()):
            errors.add("409")  # a name taken, a request decided already
    if inference:
        errors.update(("400", *_INFERENCE_ERRORS))
    for status in sorted(errors):
        operation["responses"][status] = _error_response(status)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _body(calls: set[Callable[..., Any]]) -> dict[str, Any] | None:
    for call in calls:
        if isinstance(call, JsonBody):
            return request_body(call.model, required=not call.may_be_empty)
    return None


def _hoist_defs(body: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`body` with pydantic's `$defs` moved into the components, where its `$ref`s point (a
    copy: `body` may be a route's own `openapi_extra`). A multipart body has none."""
    if "application/json" not in body["content"]:
        return body
    schema = dict(body["content"]["application/json"]["schema"])
    for name, definition in schema.pop("$defs", {}).items():
        known = schemas.setdefault(name, definition)
        assert known == definition, f"two different request models are named {name}"
    return {**body, "content": {"application/json": {"schema": schema}}}


def _error_response(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=_ERROR)}}},
    }


def _describe_operational(paths: dict[str, Any]) -> None:
    """`/metrics` is Prometheus' text format, for the admin key (unless `[ops] public_metrics`);
    `/readyz` is 503 until the models are loaded and while a store is unavailable, with
    details for the admin key."""
    metrics = paths["/metrics"]["get"]
    metrics["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    metrics["security"] = [{"bearer": []}, {}]
    for status in ("401", "403"):
        metrics["responses"][status] = _error_response(status)
    ready = paths["/readyz"]["get"]
    ready["security"] = [{}, {"bearer": []}]
    ready["responses"]["503"] = {
        "description": "Not ready: starting, or the database or Redis is unavailable.",
        "content": ready["responses"]["200"]["content"],
    }
