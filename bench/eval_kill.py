"""Benchmark (issue 22's target): a 500-item eval run survives `kill -9` of its worker mid-way
and finishes with every item scored exactly once and billed exactly once.

A tenant with a budget runs an eval of N items against a partner model (the tests' fake OpenAI
on loopback, instant answers: each item is one call, one bill and one checkpoint, so the kills
land in all three). `corral worker` processes on PostgreSQL are killed with SIGKILL at chosen
points of the run; a last worker finishes it. Then: the output items (N, each index once), the
usage records per item (each item's call once), the tenant's month (charged exactly the sum of
those records), and how many items a killed worker had asked without saving (asked again:
their answer died with it) are reported. Results go to `bench/results/eval_kill.json`.

Run: `PYTHONPATH=src:. .venv/bin/python bench/eval_kill.py [--items 500] [--kills 3]
[--trials 1] [--no-budget] [--out FILE]` (on this machine's PostgreSQL, as the tests use it).
`--kills 0` times runs that nobody kills: with and without `--no-budget`, what the run's budget
hold costs (two more ledger writes an item).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' kit and fake partner

from tests.databases import postgres_database  # noqa: E402
from tests.evals import kill_kit  # noqa: E402
from tests.providers.openai_fake import KEY, OpenAIFake  # noqa: E402

from corral.evals.store import EvalStore  # noqa: E402
from corral.settings import load_settings  # noqa: E402
from corral.storage import open_database  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "eval_kill.json"


async def bench(items: int, kills: int, trials: int, budget: bool) -> dict[str, object]:
    os.environ["FAKE_OPENAI_KEY"] = KEY
    fake = OpenAIFake()
    with tempfile.TemporaryDirectory() as home, postgres_database() as url, fake.running() as fu:
        setup = kill_kit.configure(Path(home), url, fu, 100_000_000 if budget else None)
        runs = []
        for _ in range(trials):
            fake.reset()
            runs.append(await trial(setup, fake, items, kills))
    load = os.getloadavg()
    return {"items": items, "kills": kills, "budget": budget, "runs": runs, "load_average": load}


async def trial(
    setup: kill_kit.Setup, fake: OpenAIFake, items: int, kills: int
) -> dict[str, object]:
    """One run of `items` items, its worker killed `kills` times at even points."""
    run_id = kill_kit.start_run(setup, items)
    spent_before = kill_kit.bills(setup, run_id).spent_micros  # the tenant's earlier runs
    started = time.perf_counter()
    killed = []
    for k in range(1, kills + 1):
        killed.append(await kill_at(setup, run_id, items * k // (kills + 1)))
    job = await kill_kit.finish(setup, run_id, KEY)
    took = time.perf_counter() - started
    db = open_database(load_settings(home=setup.home, database_url=setup.database_url))
    try:
        indexes = [i.index for i in await EvalStore(db).all_items(run_id)]
    finally:
        db.close()
    bills = kill_kit.bills(setup, run_id)
    asked = Counter(_n(body) for body in fake.bodies())
    twice = sorted(n for n, count in asked.items() if count > 1)
    return {
        "run_id": run_id,
        "killed_at_done": [done for done, _ in killed],
        "status": job.status,
        "attempts": job.attempts,
        "output_items": len(indexes),
        "output_items_unique": len(set(indexes)),
        "items_billed_once": sum(1 for i in range(items) if bills.per_item[i] == 1),
        "usage_records": sum(bills.per_item.values()),
        "outcomes": dict(bills.outcomes),
        "cost_micros": bills.cost_micros,
        "spent_micros": bills.spent_micros - spent_before,
        "run_holds_left": bills.run_holds,
        "items_asked_twice": twice,
        # Billed by the worker that was then killed before saving the item: without the
        # ledger look-up on resume these would have been billed twice.
        "billed_before_the_kill": [n for n, when in killed if n in twice and bills.ended[n] < when],
        "wall_s": round(took, 1),
    }


async def kill_at(setup: kill_kit.Setup, run_id: str, done: int) -> tuple[int, dt.datetime]:
    return await kill_kit.kill_at(setup, run_id, done, KEY)


def _n(body: object) -> int:
    """The item a call asked about (`Say number 12`)."""
    assert isinstance(body, dict)
    return int(str(body["messages"][-1]["content"]).split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument(
        "--kills",
        type=int,
        default=3,
        help="per run (at most 9: a job claimed more than 10 times is failed by the job queue)",
    )
    parser.add_argument("--trials", type=int, default=1, help="runs, one after the other")
    parser.add_argument(
        "--no-budget", action="store_true", help="a tenant without a budget: nothing held"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not 0 <= args.kills <= 9:
        parser.error("--kills must be 0 to 9")
    result = asyncio.run(bench(args.items, args.kills, args.trials, not args.no_budget))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    report(result)


def report(result: dict[str, Any]) -> None:
    n = result["items"]
    print(f"{'run':6}{'':28}{'measured':>10}{'target':>10}{'ratio':>8}")
    for k, run in enumerate(result["runs"], 1):
        for label, key in [
            ("output items, unique", "output_items_unique"),
            ("items billed exactly once", "items_billed_once"),
            ("usage records", "usage_records"),
        ]:
            got = int(run[key])
            print(f"{k:<6}{label:28}{got:>10}{n:>10}{got / n:>8.3f}")
        spent, cost = run["spent_micros"], run["cost_micros"]
        ratio = spent / cost if cost else float("nan")
        print(f"{k:<6}{'tenant charged (micros)':28}{spent:>10}{cost:>10}{ratio:>8.3f}")
        print(
            f"{k:<6}status {run['status']}, attempts {run['attempts']}, {run['wall_s']} s; killed "
            f"at item {run['killed_at_done']}; asked twice {run['items_asked_twice']}, of which "
            f"billed before the kill (not billed again) {run['billed_before_the_kill']}"
        )
    print(f"load average {result['load_average']}")


if __name__ == "__main__":
    main()
