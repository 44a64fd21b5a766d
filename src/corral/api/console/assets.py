"""The console's own CSS and JS, served from the package (no CDN, no build step), each with an
ETag of its SHA-256 so a browser revalidates instead of downloading again."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corral.api.console.render import HERE, PageRoute
from corral.errors import NotFound

router = APIRouter(route_class=PageRoute)

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_FILES = {
    path.name: (path.read_bytes(), _TYPES[path.suffix])
    for path in sorted((HERE / "static").iterdir())
    if path.suffix in _TYPES
}
_ETAGS = {name: f'"{hashlib.sha256(body).hexdigest()[:32]}"' for name, (body, _) in _FILES.items()}


@router.get("/static/{name}")
async def asset(name: str, request: Request) -> Response:
    if name not in _FILES:
        raise NotFound(f"No console asset named '{name}'.")
    body, media_type = _FILES[name]
    etag = _ETAGS[name]
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
