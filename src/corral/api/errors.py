"""The one place where errors become OpenAI's envelope.

`{"error": {"message", "type", "param", "code"}}` with the error's HTTP status.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException

from corral.api.jsonresponse import json_response
from corral.errors import CorralError, InvalidRequest
from corral.observability.logging import request_id_var

logger = logging.getLogger("corral.api")


def envelope(error: CorralError) -> dict[str, object]:
    return {
        "error": {
            "message": _public_message(error),
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }


def _public_message(error: CorralError) -> str:
    """What the client reads. A server-side failure carries the request id, the thread the
    operator follows to its `detail`, which is logged here and never sent."""
    if error.status_code < 500:
        return error.message
    if error.detail:
        logger.error(
            "%s: %s", error.code or type(error).__name__, error.detail, extra={"code": error.code}
        )
    request_id = request_id_var.get()
    return f"{error.message} (request id {request_id})" if request_id else error.message


def error_response(error: CorralError) -> Response:
    return json_response(envelope(error), status_code=error.status_code, headers=error.headers)


def response_for(exc: Exception) -> Response:
    """A corral error as itself; anything else is a bug: logged, and a 500 that hides it."""
    if isinstance(exc, CorralError):
        return error_response(exc)
    logger.error("unhandled error", exc_info=exc)
    return error_response(CorralError("The server had an error while processing your request."))


def from_validation_error(exc: ValidationError | RequestValidationError) -> InvalidRequest:
    """Name the first offending parameter the way OpenAI does (`messages[0].content`)."""
    errors = exc.errors()
    first: ErrorDetails = errors[0]
    loc = [part for part in first["loc"] if part != "body"]
    param = _param_path(loc) if loc else None
    kind = first["type"]
    if kind == "json_invalid":
        return InvalidRequest(
            "We could not parse the JSON body of your request: it must be valid JSON in UTF-8 "
            f"({first['msg']}).",
            code="invalid_json",
        )
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
    if kind == "model_type" and not loc:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return InvalidRequest(
        f"Invalid value for '{param}': {first['msg']}.", param=param, code="invalid_value"
    )


def from_http_error(request: Request, exc: StarletteHTTPException) -> CorralError:
    """Routing's own errors; an unknown route reads as OpenAI's, which clients such as
    LangChain tell apart from a missing model."""
    if exc.status_code == 404:
        error = CorralError(f"Invalid URL ({request.method} {request.url.path})")
    else:
        error = CorralError(str(exc.detail))
        error.code = {405: "method_not_allowed"}.get(exc.status_code)
    error.status_code = exc.status_code
    error.error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return error


def _param_path(loc: list[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_union_tag(part):
            continue  # which branch of a union pydantic tried, not a request field
        else:
            path += f".{part}" if path else part
    return path


_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "none", "bytes"})


def _is_union_tag(part: str) -> bool:
    return part in _SCALAR_TAGS or "[" in part or "-" in part or part[:1].isupper()


def install(app: FastAPI) -> None:
    @app.exception_handler(CorralError)
    async def corral_error(_: Request, exc: CorralError) -> Response:
        return response_for(exc)

    @app.exception_handler(RequestValidationError)
    async def request_validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(from_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(from_http_error(request, exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        return response_for(exc)
