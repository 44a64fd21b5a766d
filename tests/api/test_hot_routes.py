"""`HotRoutes`: the inference routes served below FastAPI, with the same errors as every route."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from corral.api.hot_routes import HotRoute, HotRoutes
from corral.errors import BudgetExceeded


async def _echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")


async def _over_budget(_: Request) -> Response:
    raise BudgetExceeded("This request could cost more than what is left of your budget.")


async def _broken(_: Request) -> Response:
    raise RuntimeError("a bug")


def _client() -> httpx.AsyncClient:
    api = FastAPI()

    @api.get("/v1/echo")
    async def listed() -> dict[str, str]:
        return {"served_by": "fastapi"}

    routes = [HotRoute("/v1/echo", _echo), HotRoute("/v1/budget", _over_budget)]
    app = HotRoutes(api, [*routes, HotRoute("/v1/broken", _broken)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://corral")


async def test_a_post_to_a_hot_route_is_answered_by_its_endpoint() -> None:
    async with _client() as client:
        answer = await client.post("/v1/echo", content=b'{"hello": "world"}')

    assert answer.status_code == 200 and answer.json() == {"hello": "world"}


async def test_other_methods_and_paths_go_to_the_fastapi_app() -> None:
    async with _client() as client:
        listed = await client.get("/v1/echo")
        unknown = await client.post("/v1/nowhere")

    assert listed.json() == {"served_by": "fastapi"}
    assert unknown.status_code == 404


async def test_a_corral_error_gets_its_status_in_openais_envelope() -> None:
    async with _client() as client:
        answer = await client.post("/v1/budget")

    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "budget_exceeded"


async def test_a_bug_is_a_500_in_the_envelope_not_a_bare_page() -> None:
    async with _client() as client:
        answer = await client.post("/v1/broken")

    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "server_error"
    assert "a bug" not in answer.text
