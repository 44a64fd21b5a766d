"""A fine-tuning job whose `corral worker` is killed outright (SIGKILL) a step after its first
checkpoint is resumed by the next worker from that checkpoint, redoes at most one checkpoint
interval, ends with the very adapter an uninterrupted job with the same seed makes, and is
billed once, for exactly the tokens it trained. (bench/finetune_kill.py does the same with a
bigger job and more kills.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.finetune.handler import TrainingConfig
from corral.money import cost_micros
from tests.databases import empty_tables
from tests.evals import kill_kit
from tests.finetune import kill_job

WORDS = ("pizza", "river", "lamp", "cloud", "stone", "bread")
EXAMPLES = [
    {
        "messages": [
            {"role": "user", "content": f"Shout the word {word}."},
            {"role": "assistant", "content": f"{word.upper()}!!!"},
        ]
    }
    for word in WORDS
]
EPOCHS = 2  # 12 steps: a checkpoint at step 10, the last at 12
EVERY = TrainingConfig().checkpoint_every
JOB_S = 300  # a worker's start (torch), the base's load, the parity check's F32 copy


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """PostgreSQL: `corral worker` processes on several machines share it."""
    yield postgres_url
    empty_tables(postgres_url)


async def test_a_job_killed_after_a_checkpoint_resumes_into_the_same_adapter_billed_once(
    tmp_path: Path, pg_url: str, embedded_float_copy: Path
) -> None:
    setup = kill_job.configure(tmp_path, pg_url, embedded_float_copy)
    job_id = kill_job.create_job(setup, EXAMPLES, EPOCHS, seed=5)
    clean_id = kill_job.create_job(setup, EXAMPLES, EPOCHS, seed=5)  # run after it, unkilled

    left, _ = await kill_kit.kill_when(  # a step past its first checkpoint
        setup, job_id, lambda j: j.progress.done > EVERY, kind=kill_job.KIND, within_s=JOB_S
    )
    assert (left.status, kill_job.checkpointed(left)) == ("running", EVERY)
    done, clean = await kill_job.finish_both(setup, job_id, clean_id, JOB_S)
    assert (done.status, done.attempts) == ("succeeded", 2), done.error

    events = await kill_job.events(setup, job_id)
    messages = [e.message for e in events]
    resumed = messages.index(f"Resumed from the checkpoint at step {EVERY}")
    before, after = kill_job.steps(events[:resumed]), kill_job.steps(events[resumed:])
    total = len(EXAMPLES) * EPOCHS
    assert before[:EVERY] == list(range(1, EVERY + 1))
    lost = len(before) - EVERY  # steps done after the checkpoint, redone after the kill
    assert lost in range(1, EVERY + 1)  # at most one interval
    assert after == list(range(EVERY + 1, total + 1))

    assert (clean.status, clean.attempts) == ("succeeded", 1), clean.error
    assert done.result is not None and clean.result is not None
    assert done.result["adapter_sha256"] == clean.result["adapter_sha256"]
    trained = int(done.result["trained_tokens"])
    assert trained == clean.result["trained_tokens"] == done.result["quoted_tokens"]

    cost = cost_micros(trained, 0, (kill_job.PRICE_MICROS, 0))
    bill = kill_job.bill(setup, job_id)
    assert bill.records == [("completed", done.result["fine_tuned_model"], trained, cost)]
    assert cost > 0 and bill.spent_micros == 2 * cost  # this job's bill and the clean one's
    assert bill.holds == 0
