"""`{{item.answer}}` and `{{sample.output_text}}`: the placeholders of OpenAI's eval templates.

A placeholder names a path into the item (a dataset line) or the sample (the model's answer);
a string that is one placeholder alone keeps the value's type (a list of choices stays a
list), otherwise values are written into the text (non-strings as JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

from corral.errors import InvalidRequest

_PLACEHOLDER = re.compile(r"\{\{\s*(item|sample)((?:\.[A-Za-z0-9_\-]+)+)\s*\}\}")


def render(template: str, scope: dict[str, Any]) -> Any:
    """The template with its placeholders filled from `scope` ({"item": ..., "sample": ...})."""
    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole is not None:
        return _lookup(scope, whole.group(1), whole.group(2))
    return _PLACEHOLDER.sub(lambda m: _text(_lookup(scope, m.group(1), m.group(2))), template)


def render_text(template: str, scope: dict[str, Any]) -> str:
    return _text(render(template, scope))


def _lookup(scope: dict[str, Any], root: str, path: str) -> Any:
    value: Any = scope.get(root)
    for key in path.strip(".").split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise InvalidRequest(
                f"The template names {root}{path}, which this {root} does not have.",
                code="invalid_template",
            )
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def input_messages(spec: dict[str, Any], scope: dict[str, Any]) -> list[dict[str, str]]:
    """The item's messages: a template filled in, or (OpenAI's `item_reference`) a list of
    messages the item holds, as OpenAI-evals datasets do (`item.input`)."""
    if spec.get("type") == "item_reference":
        reference = str(spec.get("item_reference") or "")
        turns = render("{{" + reference + "}}", scope) if reference else None
        if isinstance(turns, str):
            turns = [{"role": "user", "content": turns}]
        if not isinstance(turns, list) or not all(isinstance(m, dict) for m in turns):
            raise InvalidRequest(
                f"{reference} is not a list of messages.", code="bad_item", param="item_reference"
            )
        return [{"role": m.get("role", "user"), "content": _content(m)} for m in turns]
    template = spec.get("template") or []
    return [
        {"role": m.get("role", "user"), "content": render_text(_content(m), scope)}
        for m in template
    ]


def _content(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, dict):  # OpenAI's {"type": "input_text", "text": ...}
        return str(content.get("text", ""))
    if isinstance(content, list):  # a list of such parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)
