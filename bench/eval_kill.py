"""Benchmark (issue 22's target): a 500-item eval run survives `kill -9` of its worker mid-way
and finishes with every item scored exactly once and billed exactly once.

A tenant with a budget runs an eval of N items against a partner model (the tests' fake OpenAI
on loopback, instant answers: each item is one call, one bill and one checkpoint, so the kills
land in all three). `corral worker` processes on PostgreSQL are killed with SIGKILL at chosen
points of the run; a last worker finishes it. Then: the output items (N, each index once), the
usage records per item (each item's call once), the tenant's month (charged exactly the sum of
those records), and how many items a killed worker had asked without saving (asked again:
their answer died with it) are reported. Results go to `bench/results/eval_kill.json`.

Run: `PYTHONPATH=src:. .venv/bin/python bench/eval_kill.py [--items 500] [--kills 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' kit and fake partner

from tests.databases import postgres_database  # noqa: E402
from tests.evals import kill_kit  # noqa: E402
from tests.providers.openai_fake import KEY, OpenAIFake  # noqa: E402

from corral.evals.store import EvalStore  # noqa: E402
from corral.settings import load_settings  # noqa: E402
from corral.storage import open_database  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "eval_kill.json"


async def bench(items: int, kills: int) -> dict[str, object]:
    os.environ["FAKE_OPENAI_KEY"] = KEY
    fake = OpenAIFake()
    with tempfile.TemporaryDirectory() as home, postgres_database() as url, fake.running() as fu:
        setup = kill_kit.configure(Path(home), url, fu)
        run_id = kill_kit.start_run(setup, items)
        started = time.perf_counter()
        killed_at = []
        for k in range(1, kills + 1):
            killed_at.append(await kill_at(setup, run_id, items * k // (kills + 1)))
        job = await kill_kit.finish(setup, run_id, KEY)
        took = time.perf_counter() - started
        db = open_database(load_settings(home=Path(home), database_url=url))
        try:
            indexes = [i.index for i in await EvalStore(db).all_items(run_id)]
        finally:
            db.close()
        bills = kill_kit.bills(setup, run_id)
        asked = Counter(_n(body) for body in fake.bodies())
    return {
        "items": items,
        "kills": kills,
        "killed_at_done": killed_at,
        "status": job.status,
        "attempts": job.attempts,
        "output_items": len(indexes),
        "output_items_unique": len(set(indexes)),
        "items_billed_once": sum(1 for i in range(items) if bills.per_item[i] == 1),
        "usage_records": sum(bills.per_item.values()),
        "outcomes": dict(bills.outcomes),
        "cost_micros": bills.cost_micros,
        "spent_micros": bills.spent_micros,
        "items_asked_twice": sorted(n for n, count in asked.items() if count > 1),
        "wall_s": round(took, 1),
        "load_average": os.getloadavg(),
    }


async def kill_at(setup: kill_kit.Setup, run_id: str, done: int) -> int:
    return await kill_kit.kill_at(setup, run_id, done, KEY)


def _n(body: object) -> int:
    """The item a call asked about (`Say number 12`)."""
    assert isinstance(body, dict)
    return int(str(body["messages"][-1]["content"]).split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(bench(args.items, args.kills))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    n = result["items"]
    print(f"{'':28}{'measured':>10}{'target':>10}{'ratio':>8}")
    for label, key in [
        ("output items, unique", "output_items_unique"),
        ("items billed exactly once", "items_billed_once"),
        ("usage records", "usage_records"),
    ]:
        got = int(result[key])  # type: ignore[call-overload]
        print(f"{label:28}{got:>10}{n:>10}{got / n:>8.3f}")
    spent, cost = result["spent_micros"], result["cost_micros"]
    print(f"{'tenant charged (micros)':28}{spent:>10}{cost:>10}{spent / max(1, cost):>8.3f}")  # type: ignore[operator]
    print(
        f"killed at items done: {result['killed_at_done']}; asked twice (answer lost with "
        f"the killed worker, billed once): {result['items_asked_twice']}"
    )
    print(
        f"status {result['status']}, attempts {result['attempts']}, {result['wall_s']} s, "
        f"load average {result['load_average']}"
    )


if __name__ == "__main__":
    main()
