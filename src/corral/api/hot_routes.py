"""The inference routes, answered below FastAPI's routing: the gateway's hot path.

`POST /v1/chat/completions`, `/v1/completions` and `/v1/embeddings` are plain functions of a
Starlette `Request` (they authenticate and parse the body themselves, see `deps.inference_call`),
so they need none of what FastAPI and Starlette wrap around a route: the route table walk, the
dependency solver, the exception middlewares and their per-request closures. `HotRoutes` calls
them directly and maps their errors with the same `errors.response_for` as every other route.
The routes stay registered on the FastAPI app too, which answers every other method and path
(and lists them in its OpenAPI schema).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from corral.api.errors import response_for

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class HotRoute:
    """What the request-context middleware reads from `scope["route"]`: the route's path."""

    path: str
    endpoint: Endpoint


def post_routes(routers: Iterable[APIRouter]) -> list[HotRoute]:
    """The `POST` routes of `routers`, each of which must take the request alone."""
    routes = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.methods == {"POST"}:
                routes.append(HotRoute(route.path, route.endpoint))
    return routes


class HotRoutes:
    """Serves `POST` on the given paths itself; hands everything else to `api`.

    It sits inside the request-context and body-size middlewares, so the request id, access
    log, metrics and body limit apply to both."""

    def __init__(self, api: FastAPI, routes: Iterable[HotRoute]) -> None:
        self.api = api
        self._routes = {route.path: route for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.api(scope, receive, send)
            return
        scope["app"] = self.api  # what `request.app.state.services` reads
        scope["route"] = route
        started = _Started(send)
        try:
            response = await route.endpoint(Request(scope, receive))
        except Exception as exc:
            response = response_for(exc)
        try:
            await response(scope, receive, started)
        except Exception as exc:
            if started.status:
                raise  # the answer is under way: the server closes the connection
            await response_for(exc)(scope, receive, send)


class _Started:
    """`send`, remembering whether the response has begun (an error can then no longer be)."""

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = True
        await self._send(message)
