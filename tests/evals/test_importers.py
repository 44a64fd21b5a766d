"""lm-eval and OpenAI-evals JSONL become corral's items: multiple choice with an answer index,
generation items with an `ideal`, OpenAI-evals conversations kept as messages that a run sends
as they are (`item_reference`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import pytest

from corral.api.app import create_app
from corral.errors import InvalidRequest
from corral.evals.importers import convert
from tests.evals.test_cli import corral
from tests.evals.test_suites import work_off
from tests.providers.server import serving
from tests.support import ADMIN_KEY, echo_entry, in_process_services

LM_EVAL = [
    {"query": "The sky is", "choices": ["blue", "green"], "gold": 0, "id": 7},
    {"question": "2+2=", "choices": ["3", "4", "5"], "label": "4"},
    {"ctx": "Capital of Peru?", "choices": ["Lima", "Quito"], "answer": "A"},
    {"context": "Roses are red, violets are", "continuation": " blue"},
    {"question": "Tom has 3 apples and buys 2. How many?", "answer": "5"},
]
OPENAI_EVALS = [
    {
        "input": [
            {"role": "system", "content": "Repeat the word."},
            {"role": "user", "content": "banana"},
        ],
        "ideal": "banana",
    },
    {"input": [{"role": "user", "content": "cherry"}], "ideal": ["cherry", "Cherry"]},
]


def lines(rows: list[Any]) -> list[str]:
    return [json.dumps(r) for r in rows]


def test_lm_eval_lines_become_multiple_choice_and_generation_items() -> None:
    items = list(convert(lines(LM_EVAL), "lm-eval"))
    assert items[0] == {"id": 7, "context": "The sky is", "choices": ["blue", "green"], "answer": 0}
    assert [i.get("answer") for i in items[1:3]] == [1, 0]
    assert items[3] == {"context": "Roses are red, violets are", "ideal": " blue"}
    assert items[4]["ideal"] == "5"


def test_openai_evals_lines_keep_their_messages() -> None:
    first, second = convert(lines(OPENAI_EVALS), "openai-evals")
    assert first["input"][1] == {"role": "user", "content": "banana"}
    assert (first["ideal"], second["ideal"], second["ideals"]) == (
        "banana",
        "cherry",
        ["cherry", "Cherry"],
    )


@pytest.mark.parametrize(
    ("fmt", "row", "why"),
    [
        ("lm-eval", {"choices": ["a", "b"], "gold": 0}, "no context"),
        ("lm-eval", {"query": "q", "choices": ["a", "b"], "gold": 5}, "the gold answer is not"),
        ("openai-evals", {"input": "hi", "ideal": 3}, "'ideal' must be"),
        ("openai-evals", {"input": [{"role": "user"}], "ideal": "x"}, "'input' must be"),
    ],
)
def test_a_line_that_cannot_be_converted_is_refused_with_its_number(
    fmt: str, row: dict[str, object], why: str
) -> None:
    with pytest.raises(InvalidRequest, match=f"line 2: {why}"):
        list(convert(["", json.dumps(row)], fmt))


def test_the_cli_imports_a_file(tmp_path: Path) -> None:
    source, out = tmp_path / "lm.jsonl", tmp_path / "items.jsonl"
    source.write_text("\n".join(lines(LM_EVAL)) + "\n")
    done = corral(tmp_path, "eval", "import", str(source), "--format", "lm-eval", "-o", str(out))
    refused = corral(tmp_path, "eval", "import", str(source), "--format", "helm", "-o", str(out))
    assert done.exit_code == 0 and "5 items written" in done.stdout
    assert json.loads(out.read_text().splitlines()[0])["item"]["answer"] == 0
    assert refused.exit_code != 0


def test_an_imported_openai_evals_file_runs_its_own_messages(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps({"item": i}) + "\n" for i in convert(lines(OPENAI_EVALS), "openai-evals")
        )
    )
    services = in_process_services(tmp_path, echo_entry("echo"))
    with serving(create_app(services)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=ADMIN_KEY, max_retries=0)
        uploaded = client.files.create(file=("items.jsonl", items.read_bytes()), purpose="evals")
        made = client.evals.create(
            data_source_config={"type": "custom", "item_schema": {}, "include_sample_schema": True},
            testing_criteria=[
                {
                    "type": "string_check",
                    "name": "ideal",
                    "input": "{{sample.output_text}}",
                    "reference": "{{item.ideal}}",
                    "operation": "like",
                }
            ],
        )
        run = client.evals.runs.create(
            made.id,
            data_source={
                "type": "completions",
                "model": "echo",
                "source": {"type": "file_id", "id": uploaded.id},
                "input_messages": {"type": "item_reference", "item_reference": "item.input"},
            },
        )
        result = asyncio.run(work_off(services, run.id))
        outputs = client.evals.runs.output_items.list(run.id, eval_id=made.id)
        sent = [o.sample.input for o in outputs]
    services.db.close()
    assert result["result_counts"]["passed"] == 2
    assert [m.content for m in sent[0]] == ["Repeat the word.", "banana"]
