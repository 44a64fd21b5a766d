"""The web console at `/console`: server-rendered pages (Jinja2) and a little plain JS, with
thin handlers over the same services as the API (`corral.services`); see docs/console.md.

A page is one module with its router and one template; `install` mounts them all.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from corral.api.console import (
    access,
    assets,
    chat,
    job_page,
    jobs,
    keys,
    leaderboard,
    operator,
    operator_ops,
    run_page,
    signin,
    tasks,
    usage,
)
from corral.api.console.render import PREFIX
from corral.api.console.web import install_stores
from corral.services import Services

PAGES = (
    chat,
    tasks,
    keys,
    access,
    usage,
    jobs,
    job_page,
    run_page,
    leaderboard,
    operator,
    operator_ops,
    assets,
    signin,
)
"""`signin` last: it ends with the catch-all page that says an address is unknown."""


def install(app: FastAPI, services: Services) -> None:
    app.state.console = install_stores(services)
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in PAGES:
        router.include_router(module.router)
    app.include_router(router)
