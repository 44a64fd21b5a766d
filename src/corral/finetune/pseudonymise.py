"""Training examples with their personal data replaced by typed placeholders (`[PERSON_1]`,
`[EMAIL_1]`, ...) before they are trained on, with the privacy guard's own pseudonymiser
(`corral.privacy`): a model cannot learn, and later repeat, what it never saw.

Each example is masked as one request would be: a value gets the same placeholder in every
turn of its conversation, and numbering starts again in the next one. Only the counts per
category are kept, never the values.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from corral.privacy.pseudonymize import Pseudonymizer


def pseudonymise(
    examples: list[dict[str, Any]], pseudonymizer: Pseudonymizer | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The examples masked, and how many values of each category were replaced."""
    masker = pseudonymizer or Pseudonymizer()
    counts: Counter[str] = Counter()
    masked = []
    for example in examples:
        texts = [_text(message) for message in example["messages"]]
        result = masker.mask(texts)
        counts.update(result.counts)
        # A message without content (an assistant's tool calls) stays as it is.
        messages = [
            {**message, "content": text} if message.get("content") else message
            for message, text in zip(example["messages"], result.texts, strict=True)
        ]
        masked.append({**example, "messages": messages})
    return masked, dict(sorted(counts.items()))


def _text(message: dict[str, Any]) -> str:
    """A message's text; a list of parts is joined, as training renders it (`data._plain`)."""
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def describe(counts: dict[str, int]) -> str:
    """'PERSON 3, EMAIL 2', or 'nothing found'."""
    return ", ".join(f"{label} {count}" for label, count in counts.items()) or "nothing found"
