"""The leaderboard page over HTTP: a tenant's finished runs on a dataset, ranked with their
intervals and ties as `GET /v1/evals/leaderboard` ranks them, each linking to its signed
manifest; another tenant sees neither the board nor the manifests."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from corral.evals.manifest import verify
from tests.console.server import ECHO, Console, running_console, signed_in
from tests.evals.test_runner import CRITERIA, ITEMS
from tests.support import echo_entry

PARROT, MUTE = "parrot", "mute"


@dataclass
class Board:
    console: Console
    file_id: str
    sha256: str
    eval_id: str
    runs: dict[str, str]  # model -> run id


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    """Three finished runs of acme's on one dataset: two models that repeat each answer (all
    pass, tied), one that repeats the country (all fail)."""
    home = tmp_path_factory.mktemp("console-leaderboard")
    extra = [echo_entry(PARROT, context_length=100_000), echo_entry(MUTE, context_length=100_000)]
    jobs = {"poll_s": 0.1, "heartbeat_s": 0.5}
    with running_console(home, embedded=False, extra=extra, jobs=jobs) as console:
        client = openai.OpenAI(
            base_url=console.base_url + "/v1", api_key=console.tenants["acme"].key, max_retries=0
        )
        lines = "".join(json.dumps(row) + "\n" for row in ITEMS).encode()
        dataset = client.files.create(file=("capitals.jsonl", io.BytesIO(lines)), purpose="evals")
        evaluation = client.evals.create(
            name="capitals",
            data_source_config={"type": "custom", "item_schema": {"type": "object"},
                                "include_sample_schema": True},
            testing_criteria=CRITERIA,  # type: ignore[arg-type]
        )  # fmt: skip
        asked = {ECHO: "{{item.answer}}", PARROT: "{{item.answer}}", MUTE: "{{item.country}}"}
        runs = {
            model: client.evals.runs.create(
                evaluation.id,
                data_source={
                    "type": "completions",
                    "model": model,
                    "source": {"type": "file_id", "id": dataset.id},
                    "input_messages": {
                        "type": "template",
                        "template": [{"role": "user", "content": content}],
                    },
                },
            ).id
            for model, content in asked.items()
        }
        for run_id in runs.values():
            _finished(client, evaluation.id, run_id)
        yield Board(console, dataset.id, _sha256(client, dataset.id), evaluation.id, runs)


def _finished(client: openai.OpenAI, eval_id: str, run_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = client.evals.runs.retrieve(run_id, eval_id=eval_id)
        if run.status not in ("queued", "in_progress"):
            assert run.status == "completed", run
            return
        time.sleep(0.2)
    raise AssertionError(f"{run_id} did not finish")


def _sha256(client: openai.OpenAI, file_id: str) -> str:
    found = client.get(f"/evals/datasets/{file_id}", cast_to=httpx.Response).json()
    return str(found["sha256"])


def _row(html: str, run_id: str) -> str:
    start = html.index(f'<tr id="{run_id}">')
    return html[start : html.index("</tr>", start)]


def test_a_tenant_sees_its_models_ranked_with_ties_and_manifests(board: Board) -> None:
    acme = board.console.tenants["acme"]
    with signed_in(board.console, acme.key) as client:
        page = client.get("/console/evals/leaderboard", params={"dataset": board.file_id})
        by_sha = client.get("/console/evals/leaderboard", params={"dataset": board.sha256})
        index = client.get("/console/evals/leaderboard").text
        echo_row = _row(page.text, board.runs[ECHO])
        link = f"/console/evals/runs/{board.runs[ECHO]}/manifest.json"
        manifest = client.get(link)

    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert by_sha.text == page.text  # a file id is looked up to its SHA-256
    assert '<td class="num">1</td>' in echo_row and "100.0 %" in echo_row
    assert "parrot" in echo_row  # tied: both intervals are [1, 1]
    # The test's echo models are outside the configuration: their runs record no digest
    # (current and stale are tested on the ranking itself, tests/evals/test_leaderboard.py).
    assert ">unknown<" in echo_row
    mute_row = _row(page.text, board.runs[MUTE])
    assert '<td class="num">3</td>' in mute_row and "0.0 %" in mute_row and "none" in mute_row
    assert f'href="{link}"' in echo_row
    assert f'href="/console/evals/runs/{board.runs[ECHO]}"' in echo_row  # its attestation
    assert board.sha256[:16] in index and board.file_id in index  # the datasets to pick from

    assert manifest.status_code == 200
    assert "attachment" in manifest.headers["content-disposition"]
    signed = manifest.json()
    assert verify(signed) is None
    assert signed["manifest"]["model"]["id"] == ECHO
    assert signed["manifest"]["dataset"]["sha256"] == board.sha256


def test_another_tenant_sees_neither_the_board_nor_its_manifests(board: Board) -> None:
    globex = board.console.tenants["globex"]
    link = f"/console/evals/runs/{board.runs[ECHO]}/manifest.json"
    with signed_in(board.console, globex.key) as client:
        by_sha = client.get("/console/evals/leaderboard", params={"dataset": board.sha256})
        by_file = client.get("/console/evals/leaderboard", params={"dataset": board.file_id})
        manifest = client.get(link)
        index = client.get("/console/evals/leaderboard").text

    assert by_sha.status_code == 200
    assert "None of your finished runs scored this dataset" in by_sha.text
    assert board.runs[ECHO] not in by_sha.text
    assert by_file.status_code == 404  # acme's file is not globex's to name
    assert manifest.status_code == 404 and "not found" in manifest.text
    assert "No finished evaluation runs yet." in index and board.sha256[:16] not in index


def test_the_page_needs_a_session_and_shows_bad_input_escaped(board: Board) -> None:
    anonymous = httpx.get(
        board.console.url + "/evals/leaderboard", params={"dataset": board.sha256}
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/sign-in"
    with signed_in(board.console, board.console.tenants["acme"].key) as client:
        hostile = client.get("/console/evals/leaderboard", params={"dataset": "<b>x</b>"})
    assert hostile.status_code == 404 and "<b>x</b>" not in hostile.text
