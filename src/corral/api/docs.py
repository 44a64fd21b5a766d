"""The interactive API pages, `/docs` (Swagger UI) and `/redoc`, served only from local files.

FastAPI's defaults load both from a public CDN: broken on an offline install, and a third-party
load on the operator's page. No package in corral's environment ships the assets, so the pages
are off unless `server.api_docs_assets` names a directory holding them; `/openapi.json` is
always served."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

_MOUNT = "/docs-assets"


def install(api: FastAPI, assets: Path | None) -> None:
    """Add `/docs` and `/redoc` over the assets in `assets`; nothing if it is None."""
    if assets is None:
        return
    api.mount(_MOUNT, StaticFiles(directory=assets), name="docs-assets")
    openapi_url = api.openapi_url or "/openapi.json"
    title = f"{api.title} API"
    # A favicon link must name something local too, or the browser fetches FastAPI's.
    favicon = f"{_MOUNT}/favicon.png"

    @api.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{_MOUNT}/swagger-ui-bundle.js",
            swagger_css_url=f"{_MOUNT}/swagger-ui.css",
            swagger_favicon_url=favicon,
        )

    @api.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{_MOUNT}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
