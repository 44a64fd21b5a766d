"""Other tools' eval datasets as corral's items (one JSON object per line).

- lm-eval style: a multiple-choice line (`query`/`question`/`context`/`ctx`, `choices`,
  `gold`/`label`/`answer`) becomes `{"context", "choices", "answer"}` with `answer` the right
  option's index; a loglikelihood or generation line (`context`, `continuation`/`target`)
  (or `answer`, as in GSM8K-style sets) becomes `{"context", "ideal"}`.
- OpenAI evals (`{"input": [messages], "ideal": ...}`): `input` is kept as a list of messages
  (a run names it with `input_messages: {"type": "item_reference", "item_reference":
  "item.input"}`), `ideal` becomes a string (the first, when it is a list) and `ideals` the
  whole list.

Fields the conversion does not use are kept, so templates can still name them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from corral.errors import InvalidRequest

FORMATS = ("lm-eval", "openai-evals")
_CONTEXT = ("query", "question", "context", "ctx", "prompt")
_GOLD = ("gold", "label", "answer")
_TARGET = ("continuation", "target")


def lm_eval_item(row: dict[str, Any]) -> dict[str, Any]:
    context = next((row[k] for k in _CONTEXT if isinstance(row.get(k), str)), None)
    if context is None:
        raise ValueError(f"no context ({', '.join(_CONTEXT)})")
    rest = {k: v for k, v in row.items() if k not in (*_CONTEXT, *_GOLD, *_TARGET)}
    choices = row.get("choices")
    if choices is not None:
        if not isinstance(choices, list) or len(choices) < 2:
            raise ValueError("'choices' must be a list of at least two options")
        options = [str(c) for c in choices]
        return {**rest, "context": context, "choices": options, "answer": _gold(row, options)}
    target = next((row[k] for k in (*_TARGET, "answer") if k in row), None)
    if isinstance(target, list) and target:
        target = target[0]
    if not isinstance(target, str | int | float) or isinstance(target, bool):
        raise ValueError("no choices and no continuation/target")
    return {**rest, "context": context, "ideal": str(target)}


def _gold(row: dict[str, Any], options: list[str]) -> int:
    gold = next((row[k] for k in _GOLD if k in row), None)
    if isinstance(gold, list) and len(gold) == 1:  # lm-eval allows a list of right answers
        gold = gold[0]
    if isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(options):
        return gold
    if isinstance(gold, str) and gold.isdigit() and int(gold) < len(options):
        return int(gold)
    if isinstance(gold, str) and gold in options:
        return options.index(gold)
    if isinstance(gold, str) and len(gold) == 1 and "A" <= gold <= chr(ord("A") + len(options) - 1):
        return ord(gold) - ord("A")  # a letter, as MMLU-style sets give it
    raise ValueError("the gold answer is not one of the choices (an index, a letter or a text)")


def openai_evals_item(row: dict[str, Any]) -> dict[str, Any]:
    messages = row.get("input")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not (
        isinstance(messages, list)
        and messages
        and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
    ):
        raise ValueError("'input' must be a list of messages with text content")
    ideal = row.get("ideal")
    ideals = ideal if isinstance(ideal, list) else [ideal]
    if not ideals or not all(isinstance(i, str) for i in ideals):
        raise ValueError("'ideal' must be a string or a list of strings")
    turns = [{"role": str(m.get("role", "user")), "content": m["content"]} for m in messages]
    rest = {k: v for k, v in row.items() if k not in ("input", "ideal")}
    return {**rest, "input": turns, "ideal": ideals[0], "ideals": ideals}


_CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "lm-eval": lm_eval_item,
    "openai-evals": openai_evals_item,
}


def convert(lines: Iterable[str], fmt: str) -> Iterator[dict[str, Any]]:
    """Each line's item; a line that cannot be converted is refused with its number."""
    if fmt not in _CONVERTERS:
        raise InvalidRequest(f"Unknown format {fmt!r} ({', '.join(FORMATS)} are known).")
    converter = _CONVERTERS[fmt]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            yield converter(row)
        except ValueError as exc:  # json's errors are ValueErrors too
            raise InvalidRequest(f"line {number}: {exc}.", code="invalid_file") from None
