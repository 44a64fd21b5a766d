"""Contamination: which items of a run a model may have seen while it was trained.

lm-eval's decontamination method (its own implementation is an unfinished stub): an item is
contaminated when it shares `n` words in a row (13 by default) with a corpus the model may
have been trained on. Words are runs of letters and digits, lower-cased, so punctuation,
spacing and case do not hide an overlap. An item of fewer than `n` words is contaminated when
all of it appears in a corpus. A run reports the contaminated items and its scores on the
clean rest, and its manifest records which corpora (by SHA-256) it was checked against.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.evals.report import scores
from corral.evals.store import OutputItem

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    sha256: str
    grams: frozenset[int]
    """Hashes of its n-grams (of words)."""
    text: str
    """Its words, space-joined and padded: short items are looked for in it."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def load_corpus(path: Path, n: int) -> Corpus:
    """A text file, or a JSONL file whose string values (at any depth) are its text."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".jsonl":
        text = "\n".join(_text_of(_json_or_text(line)) for line in text.splitlines())
    tokens = words(text)
    grams = frozenset(hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1))
    return Corpus(path.name, hashlib.sha256(raw).hexdigest(), grams, f" {' '.join(tokens)} ")


def seen_in(item: dict[str, Any], corpora: Sequence[Corpus], n: int) -> bool:
    tokens = words(_text_of(item))
    if not tokens:
        return False
    if len(tokens) < n:
        needle = f" {' '.join(tokens)} "
        return any(needle in corpus.text for corpus in corpora)
    grams = {hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}
    return any(not grams.isdisjoint(corpus.grams) for corpus in corpora)


def report(
    paths: Sequence[Path],
    outputs: Sequence[OutputItem],
    names: Sequence[str],
    seed: int,
    n: int,
) -> dict[str, Any]:
    """The run's contamination section: corpora checked, contaminated items, clean scores."""
    corpora = [load_corpus(path, n) for path in paths]
    dirty = [o.index for o in outputs if seen_in(o.datasource_item, corpora, n)]
    clean = [o for o in outputs if o.index not in set(dirty)]
    return {
        "method": f"{n}-gram overlap of words",
        "checked_against": [{"name": c.name, "sha256": c.sha256} for c in corpora],
        "contaminated_items": dirty,
        "clean_scores": scores(clean, names, seed),
    }


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_text_of(v) for v in value.values())
    if isinstance(value, Iterable):
        return "\n".join(_text_of(v) for v in value)
    return ""


def _json_or_text(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return line
