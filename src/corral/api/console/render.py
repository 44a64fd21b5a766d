"""Pages: the Jinja2 environment (autoescaped), the console's security headers, and the route
class that turns any error of a console route into a readable page (or, for the chat's
`fetch`, OpenAI's error envelope): the console never shows a traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from corral.api.errors import envelope, error_response, from_validation_error
from corral.errors import AuthenticationFailed, CorralError

logger = logging.getLogger("corral.console")
HERE = Path(__file__).parent
PREFIX = "/console"


@functools.cache
def _templates() -> Any:
    """The Jinja2 environment, made at the first page: a server whose console nobody opens
    never imports Jinja2 (a few MB of every worker)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


SECURITY_HEADERS = {
    # Only this origin's own files run: even a string that slipped past escaping cannot load
    # or execute a script, call out, or be framed.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """No live session: the browser goes to the sign-in page."""


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "console", None)
    html = (
        _templates()
        .get_template(template)
        .render(prefix=PREFIX, session=session, path=request.url.path, **context)
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303, headers=SECURITY_HEADERS)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        if _wants_json(request):
            return error_response(_signed_out())
        return redirect("/sign-in")
    if isinstance(exc, RequestValidationError):
        exc = from_validation_error(exc)
    if not isinstance(exc, CorralError):
        logger.error("unhandled console error", exc_info=exc)
        exc = CorralError("The console had an error while showing this page.")
    if _wants_json(request):
        return error_response(exc)
    message = str(envelope(exc)["error"]["message"])  # type: ignore[index]
    return page(request, "error.html", exc.status_code, message=message, status=exc.status_code)


def _signed_out() -> CorralError:
    return AuthenticationFailed("Your console session has ended; sign in again.", code="signed_out")


class PageRoute(APIRoute):
    """A console route: its errors become pages here, not the API's JSON envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return error_page(request, exc)

        return handle
