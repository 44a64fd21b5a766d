"""The body of a task request: read as every JSON body is, except that a number too long to
read (a count of 5,000 digits, which the JSON reader refuses without saying where) is refused
naming its parameter, such as `posts[0].views`."""

from __future__ import annotations

import asyncio
import json
import sys

from fastapi import Request

from corral.api.deps import JsonBody, ModelT
from corral.errors import InvalidRequest


class _LongNumber(str):
    """The digits of a whole number too long to convert, kept where the number was."""


class TaskBody(JsonBody[ModelT]):
    async def __call__(self, request: Request) -> ModelT:
        try:
            return await super().__call__(request)
        except InvalidRequest as exc:
            if exc.code == "invalid_json":
                path = await asyncio.to_thread(long_number_path, await request.body())
                if path is not None:
                    raise InvalidRequest(
                        f"'{path}' is a number too large to be read",
                        param=path,
                        code="number_too_large",
                    ) from None
            raise


def task_body(model: type[ModelT]) -> TaskBody[ModelT]:
    return TaskBody(model)


def long_number_path(raw: bytes) -> str | None:
    """Where the body's first too-long whole number is (`posts[0].views`), if it has one."""
    limit = sys.get_int_max_str_digits() or 4300

    def whole(digits: str) -> int | str:
        return _LongNumber(digits) if len(digits.lstrip("-")) > limit else int(digits)

    try:
        document = json.loads(raw, parse_int=whole)
    except (ValueError, RecursionError):  # not only a long number is wrong with it
        return None
    stack: list[tuple[str, object]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _LongNumber):
            return path
        if isinstance(value, dict):
            items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        stack.extend(reversed(items))  # depth first, in the document's order
    return None
