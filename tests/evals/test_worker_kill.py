"""A run whose `corral worker` is killed outright (SIGKILL) mid-way is finished by the next
worker with every item graded once and billed once: the tenant's month is charged exactly the
sum of one record per item. (bench/eval_kill.py does the same with 500 items and more kills.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.evals.store import EvalStore
from corral.settings import load_settings
from corral.storage import open_database
from tests.databases import empty_tables
from tests.evals import kill_kit
from tests.providers.openai_fake import KEY, OpenAIFake

ITEMS = 40


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """PostgreSQL only: `corral worker` processes on several machines share it."""
    yield postgres_url
    empty_tables(postgres_url)


@pytest.fixture
def fake_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FAKE_OPENAI_KEY", KEY)
    with OpenAIFake().running() as url:
        yield url


async def test_a_run_killed_mid_way_scores_and_bills_every_item_once(
    tmp_path: Path, pg_url: str, fake_url: str
) -> None:
    setup = kill_kit.configure(tmp_path, pg_url, fake_url)
    run_id = kill_kit.start_run(setup, ITEMS)

    at, _ = await kill_kit.kill_at(setup, run_id, ITEMS // 3, KEY)
    job = await kill_kit.finish(setup, run_id, KEY)

    assert ITEMS // 3 <= at < ITEMS
    assert (job.status, job.attempts) == ("succeeded", 2), job.error
    assert job.result is not None
    assert job.result["result_counts"] == {
        "total": ITEMS,
        "passed": ITEMS,
        "failed": 0,
        "errored": 0,
    }
    db = open_database(load_settings(home=tmp_path, database_url=pg_url))
    try:
        items = await EvalStore(db).all_items(run_id)
    finally:
        db.close()
    assert [i.index for i in items] == list(range(ITEMS))
    bills = kill_kit.bills(setup, run_id)
    assert bills.per_item == {i: 1 for i in range(ITEMS)}
    assert bills.cost_micros > 0 and bills.spent_micros == bills.cost_micros
    assert bills.run_holds == 0  # the run's budget hold, given back by the worker that ended it
