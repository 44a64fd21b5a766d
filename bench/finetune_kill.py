"""Benchmark (issue 24's target): `kill -9` of the worker mid-job: the job resumes from its last
checkpoint, loses at most one checkpoint interval, finishes with the same adapter sha256 as an
uninterrupted run with the same seed, and is billed exactly once.

Method: the test's kit (`tests.finetune.kill_job`, on `tests.evals.kill_kit`'s workers): on this
machine's PostgreSQL, a tenant with a budget creates two jobs on the same `--examples` examples
(bench/finetune.py's, `--epochs`, seed 5) through the API; the first job's `corral worker` is
killed with SIGKILL `--past` steps after each of `--kills` checkpoints (every 10 steps: the
steps past it are lost and done again; 0: right after the checkpoint), a last worker
finishes it and then runs the second, which nobody kills. Reported: per kill the checkpoint's
step and the steps the killed worker had done past it (redone: at most 10), the two adapters'
sha256, and the ledger's `fine_tuning` records of the killed job against one record of exactly
its trained tokens. Results go to bench/results/finetune_kill.json.

Run: `PYTHONPATH=src:. .venv/bin/python bench/finetune_kill.py [--examples 40] [--epochs 1]
[--kills 2] [--past 5] [--home DIR]` (`--home` keeps the base's float copy between runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' kits

from tests.databases import postgres_database  # noqa: E402
from tests.evals import kill_kit  # noqa: E402
from tests.finetune import kill_job  # noqa: E402

from corral.finetune.base import float_base  # noqa: E402
from corral.jobs import Job  # noqa: E402
from corral.money import cost_micros  # noqa: E402
from corral.settings import load_settings  # noqa: E402
from finetune import examples  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "finetune_kill.json"
JOB_S = 1800.0


async def bench(float_copy: Path, count: int, epochs: int, kills: int, past: int) -> dict[str, Any]:
    data = examples(count)
    with tempfile.TemporaryDirectory() as home, postgres_database() as url:
        setup = kill_job.configure(Path(home), url, float_copy)
        job_id = kill_job.create_job(setup, data, epochs, seed=5)
        clean_id = kill_job.create_job(setup, data, epochs, seed=5)
        started = time.perf_counter()
        killed = []
        for k in range(1, kills + 1):

            def due(job: Job, k: int = k) -> bool:
                there = kill_job.checkpointed(job) >= 10 * k and job.progress.done >= 10 * k + past
                return there or job.finished

            left, _ = await kill_kit.kill_when(
                setup, job_id, due, kind=kill_job.KIND, within_s=JOB_S
            )
            killed.append(kill_job.checkpointed(left))
        done, clean = await kill_job.finish_both(setup, job_id, clean_id, JOB_S)
        took = time.perf_counter() - started
        events = await kill_job.events(setup, job_id)
        bill = kill_job.bill(setup, job_id)
    assert done.result is not None and clean.result is not None, (done.error, clean.error)
    trained = int(done.result["trained_tokens"])
    return {
        "examples": count,
        "epochs": epochs,
        "steps": count * epochs,
        "killed_past_checkpoint": past,
        "killed_at_checkpoint": killed,
        "redone_after_each_kill": _redone(events),
        "status": done.status,
        "attempts": done.attempts,
        "adapter_sha256": done.result["adapter_sha256"],
        "uninterrupted_sha256": clean.result["adapter_sha256"],
        "trained_tokens": trained,
        "uninterrupted_trained_tokens": clean.result["trained_tokens"],
        "records": [list(r) for r in bill.records],
        "expected_cost_micros": cost_micros(trained, 0, (kill_job.PRICE_MICROS, 0)),
        "holds_left": bill.holds,
        "wall_s": round(took, 1),
    }


def _redone(events: list[Any]) -> list[int]:
    """Per resume: how many steps the killed worker had reported past the checkpoint."""
    redone, last = [], 0
    for event in events:
        if event.message.startswith("Resumed from the checkpoint at step "):
            redone.append(last - int(event.message.rsplit(" ", 1)[1]))
        elif event.data and "train_loss" in event.data:
            last = int(event.data["step"])
    return redone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--past", type=int, default=5, help="steps past the checkpoint (< 10)")
    parser.add_argument(
        "--home", type=Path, default=Path(tempfile.gettempdir()) / "corral-bench-finetune"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not 0 < 10 * args.kills + args.past < args.examples * args.epochs or not 0 <= args.past < 10:
        parser.error("each kill needs a checkpoint (every 10 steps) before the last step")
    float_copy = float_base(load_settings(home=args.home).embedded_model_path, args.home)
    result = asyncio.run(bench(float_copy, args.examples, args.epochs, args.kills, args.past))
    result["load_average"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    report(result)


def report(result: dict[str, Any]) -> None:
    same = result["adapter_sha256"] == result["uninterrupted_sha256"]
    print(
        f"{result['examples']} examples x {result['epochs']} epochs = {result['steps']} steps; "
        f"{result['status']} after {result['attempts']} attempts in {result['wall_s']} s"
    )
    print(
        f"killed {result['killed_past_checkpoint']} steps after checkpoints "
        f"{result['killed_at_checkpoint']}; steps redone per kill "
        f"{result['redone_after_each_kill']} (target <= 10)"
    )
    print(
        f"adapter sha256 {result['adapter_sha256'][:16]}  uninterrupted "
        f"{result['uninterrupted_sha256'][:16]}  same: {same}"
    )
    billed = sum(r[2] for r in result["records"])
    print(
        f"fine_tuning records {len(result['records'])} (target 1), tokens billed {billed} / "
        f"trained {result['trained_tokens']} (ratio {billed / result['trained_tokens']:.3f}), "
        f"cost {[r[3] for r in result['records']]} / {result['expected_cost_micros']}"
    )
    print(f"load average {result['load_average']}")


if __name__ == "__main__":
    main()
