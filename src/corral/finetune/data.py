"""Chat examples to training sequences: the model's own chat template, the loss on assistant
turns only (those with `weight: 0` are context, not targets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.errors import InvalidRequest

IGNORE = -100
"""The label torch's cross entropy skips."""


@dataclass(frozen=True, slots=True)
class Sequence:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def read_examples(path: Path) -> list[dict[str, Any]]:
    """The examples of a JSONL file the Files API has checked already."""
    examples = []
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                examples.append(json.loads(raw))
    if not examples:
        raise InvalidRequest("The training file has no examples.", code="invalid_file")
    return examples


def training_sequences(
    path: Path, tokenizer: Any, max_tokens: int, pseudonymize: bool = False
) -> tuple[list[Sequence], dict[str, int] | None]:
    """A training file's examples as the job trains on them (pseudonymised first if asked),
    and what pseudonymising replaced per category (None when it was not asked for). The job's
    quote at creation and its training both come from here, so they count the same tokens."""
    examples = read_examples(path)
    replaced = None
    if pseudonymize:
        from corral.finetune.pseudonymise import pseudonymise

        examples, replaced = pseudonymise(examples)
    return [tokenise(example, tokenizer, max_tokens) for example in examples], replaced


def planned_tokens(sequences: list[Sequence], epochs: int) -> int:
    """What a job trains if it runs to the end (its `trained_tokens`): every token of every
    example, context included, each epoch."""
    return sum(len(sequence.input_ids) for sequence in sequences) * epochs


def tokenise(example: dict[str, Any], tokenizer: Any, max_tokens: int) -> Sequence:
    """Render the conversation turn by turn with the chat template; each assistant turn's tokens
    (after its generation prompt) are targets, everything else is context. Cut at `max_tokens`."""
    messages = [_plain(message) for message in example["messages"]]
    ids: list[int] = []
    labels: list[int] = []
    before = ""
    for index, message in enumerate(messages):
        if message["role"] == "assistant":
            prompt = _render(tokenizer, messages[:index], generation_prompt=True)
            _append(tokenizer, prompt, before, ids, labels, train=False)
            before = prompt
        text = _render(tokenizer, messages[: index + 1], generation_prompt=False)
        trained = message["role"] == "assistant" and example["messages"][index].get("weight", 1)
        _append(tokenizer, text, before, ids, labels, train=bool(trained))
        before = text
    return Sequence(ids[:max_tokens], labels[:max_tokens])


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content") or ""
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return {"role": message["role"], "content": content}


def _render(tokenizer: Any, messages: list[dict[str, Any]], *, generation_prompt: bool) -> str:
    if not messages:
        return ""
    text: str = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )
    return text


def _append(
    tokenizer: Any, text: str, before: str, ids: list[int], labels: list[int], *, train: bool
) -> None:
    if not text.startswith(before):
        raise InvalidRequest(
            "The base model's chat template does not render conversations incrementally; "
            "it cannot be fine-tuned on assistant turns only.",
            code="unsupported_model",
        )
    piece = tokenizer(text[len(before) :], add_special_tokens=False)["input_ids"]
    ids.extend(piece)
    labels.extend(piece if train else [IGNORE] * len(piece))
