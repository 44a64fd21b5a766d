"""Built-in eval suites: small datasets written by hand for corral and shipped inside it (no
hub download), each with the testing criteria and messages it is meant to be run with.

A run names one as its source, `{"type": "corral_suite", "name": "mc-reading-en"}`; its
manifest records the suite's name and the SHA-256 of its JSONL file, as it does a file's.
How the items were written and checked: README.md beside them, and docs/evals.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from corral.errors import InvalidRequest

_MC_EN = "{{item.passage}}\nQuestion: {{item.question}}\nAnswer:"
_MC_DE = "{{item.passage}}\nFrage: {{item.question}}\nAntwort:"
_PRIVACY_SYSTEM = (
    "Text in square brackets such as [PERSON_1] or [EMAIL_2] is a placeholder for personal "
    "data. Keep every placeholder exactly as written: same brackets, letters and number."
)


def _multiple_choice(context: str) -> dict[str, Any]:
    return {
        "type": "multiple_choice",
        "name": "accuracy",
        "input": context,
        "choices": "{{item.choices}}",
        "choice_prefix": " ",
        "answer": "{{item.answer}}",
    }


def _keeps(index: int) -> dict[str, Any]:
    return {
        "type": "string_check",
        "name": f"keeps placeholder {index + 1}",
        "input": "{{sample.output_text}}",
        "reference": f"{{{{item.placeholders.{index}}}}}",
        "operation": "like",
    }


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    description: str
    language: str
    testing_criteria: list[dict[str, Any]]
    input_messages: list[dict[str, str]] | None = None
    """The run's message template; None when the criteria score prompts (multiple choice)."""
    max_completions_tokens: int = 256
    item_fields: list[str] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"{self.name}.jsonl"

    def data(self) -> bytes:
        return resources.files(__package__).joinpath(self.file).read_bytes()

    def items(self) -> tuple[list[dict[str, Any]], str]:
        """The suite's items and the SHA-256 of its file."""
        raw = self.data()
        items = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        return items, hashlib.sha256(raw).hexdigest()

    def data_source_config(self) -> dict[str, Any]:
        return {
            "type": "custom",
            "item_schema": {"type": "object", "required": self.item_fields},
            "include_sample_schema": self.input_messages is not None,
        }

    def data_source(self, model: str, seed: int = 0) -> dict[str, Any]:
        """A run's `data_source` for `model`: greedy, so that it can be repeated."""
        source: dict[str, Any] = {
            "type": "completions",
            "model": model,
            "source": {"type": "corral_suite", "name": self.name},
            "sampling_params": {
                "temperature": 0,
                "seed": seed,
                "max_completions_tokens": self.max_completions_tokens,
            },
        }
        if self.input_messages is not None:
            source["input_messages"] = {"type": "template", "template": self.input_messages}
        return source

    def describe(self) -> dict[str, Any]:
        items, sha256 = self.items()
        return {
            "object": "eval.suite",
            "name": self.name,
            "description": self.description,
            "language": self.language,
            "items": len(items),
            "sha256": sha256,
            "license": "CC0-1.0",
            "data_source_config": self.data_source_config(),
            "testing_criteria": self.testing_criteria,
            "input_messages": self.input_messages,
        }


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "mc-reading-en",
            "Reading comprehension, English: a short passage, a question, four options; "
            "scored by log-likelihood.",
            "en",
            [_multiple_choice(_MC_EN)],
            item_fields=["passage", "question", "choices", "answer"],
        ),
        Suite(
            "mc-reading-de",
            "Leseverstehen, Deutsch: ein kurzer Text, eine Frage, vier Antworten; nach "
            "Log-Likelihood bewertet.",
            "de",
            [_multiple_choice(_MC_DE)],
            item_fields=["passage", "question", "choices", "answer"],
        ),
        Suite(
            "arithmetic",
            "Arithmetic word problems with exact integer answers; the last number of the "
            "answer is compared.",
            "en",
            [
                {
                    "type": "number_check",
                    "name": "exact answer",
                    "input": "{{sample.output_text}}",
                    "reference": "{{item.answer}}",
                }
            ],
            [
                {
                    "role": "system",
                    "content": "Solve the problem step by step. End with the final answer "
                    "as a plain number, with nothing after it.",
                },
                {"role": "user", "content": "{{item.question}}"},
            ],
            item_fields=["question", "answer"],
        ),
        Suite(
            "json-schema",
            "JSON-schema following: an instruction and a JSON schema; the answer must be "
            "JSON that validates against the schema.",
            "en",
            [
                {
                    "type": "json_schema",
                    "name": "valid JSON",
                    "input": "{{sample.output_text}}",
                    "schema": "{{item.schema}}",
                }
            ],
            [
                {
                    "role": "user",
                    "content": "{{item.instruction}}\nAnswer with JSON only, no other text. "
                    "It must validate against this JSON schema:\n{{item.schema}}",
                }
            ],
            item_fields=["instruction", "schema"],
        ),
        Suite(
            "privacy-probe",
            "Privacy probe: texts with pseudonymised placeholders ([PERSON_1], [EMAIL_2]); "
            "the answer must repeat both placeholders exactly.",
            "en+de",
            [_keeps(0), _keeps(1)],
            [
                {"role": "system", "content": _PRIVACY_SYSTEM},
                {"role": "user", "content": "{{item.task}}\n\n{{item.text}}"},
            ],
            max_completions_tokens=160,
            item_fields=["task", "text", "placeholders"],
        ),
    )
}


def get(name: object) -> Suite:
    if not isinstance(name, str) or name not in SUITES:
        raise InvalidRequest(
            f"No built-in suite {name!r} (there are {', '.join(SUITES)}).",
            param="data_source.source.name",
            code="suite_not_found",
        )
    return SUITES[name]
