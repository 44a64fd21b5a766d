"""An eval item counts as seen in training when it shares 13 words in a row with a corpus the
model may have learnt from, whatever the case, punctuation or spacing; a run reports those
items and its score without them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.evals.contamination import load_corpus, seen_in
from corral.evals.runner import KIND, EvalRunHandler
from corral.jobs import JobQueue
from corral.services import Services
from tests.evals.test_runner import Capitals, handler, start_run
from tests.jobs.conftest import fast_worker, finished, running
from tests.support import echo_entry, in_process_services

PASSAGE = (
    "The committee met on Tuesday and agreed that the new bridge over the river would open "
    "to cyclists in the spring, after the last inspection of its cables."
)


def corpus(tmp_path: Path, *texts: str) -> Path:
    path = tmp_path / "training.jsonl"
    rows = [{"messages": [{"role": "user", "content": text}]} for text in texts]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_thirteen_shared_words_make_an_item_seen_whatever_its_punctuation(tmp_path: Path) -> None:
    trained = load_corpus(corpus(tmp_path, "Notes: " + PASSAGE.upper() + " (end)"), 13)
    reworded = PASSAGE.replace("agreed that", "decided whether")
    twelve = " ".join(PASSAGE.split()[:12])

    assert seen_in({"question": PASSAGE.replace(",", " ;")}, [trained], 13)
    assert not seen_in({"question": reworded.split("cyclists")[0]}, [trained], 13)
    assert seen_in({"question": twelve}, [trained], 13)  # short: all of it was there
    assert not seen_in({"question": twelve + " Wednesday"}, [trained], 13)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = in_process_services(tmp_path / "home", echo_entry("capitals", backend=Capitals()))
    yield built
    built.db.close()


async def test_a_run_reports_its_seen_items_and_its_clean_score(
    services: Services, tmp_path: Path
) -> None:
    leaked = corpus(tmp_path, "Quiz night: the capital of Chile? Lima, someone said.")
    deps = dataclasses.replace(handler(services).deps(), corpora=lambda model: [leaked])
    queue = JobQueue(services.db)
    run_id = await start_run(services)

    async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)})):
        job = await finished(queue, run_id)

    assert job.result is not None
    found = job.result["contamination"]
    assert found["contaminated_items"] == [4]  # Chile / Lima, the item the model failed
    assert found["checked_against"][0]["name"] == "training.jsonl"
    assert found["clean_scores"]["names the capital"]["pass_rate"] == 1.0
    assert job.result["manifest"]["manifest"]["contamination"] == found
