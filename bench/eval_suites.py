"""Run built-in eval suites on the embedded model, in process (the real gateway, a worker, the
signed manifest), and print each run's counts, scores with their 95 % intervals, and wall time.

    PYTHONPATH=src .venv/bin/python bench/eval_suites.py mc-reading-en arithmetic [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from corral.evals import suites
from corral.evals.manifest import SigningKey
from corral.evals.provenance import model_facts
from corral.evals.runner import KIND, EvalDeps, EvalRunHandler
from corral.evals.service import create_eval, create_run
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.jobs import JobQueue
from corral.pipeline.auth import ADMIN
from corral.services import build_services
from corral.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' worker helpers

from tests.jobs.conftest import eventually, fast_worker, running

MODEL = "smollm2-135m-instruct"


async def run_suite(name: str, threads: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="corral-suite-"))
    weights = load_settings().embedded_model_path
    model = {"name": MODEL, "path": str(weights), "context_length": 1024, "threads": threads}
    settings = load_settings(home=home, embedded_model=False, models=[model])
    services = build_services(settings, SecretStr("bench-" + "x" * 32))
    suite = suites.get(name)
    store, queue = EvalStore(services.db), JobQueue(services.db)
    files = FileStore(services.db, home, settings.files)
    made = await create_eval(
        store, ADMIN, name, suite.data_source_config(), suite.testing_criteria, None
    )
    job = await create_run(queue, files, made, ADMIN, None, suite.data_source(MODEL), None)
    deps = EvalDeps(
        services.gateway,
        files,
        store,
        SigningKey.load_or_create(home),
        lambda m: model_facts(settings, m, home),
    )
    started = time.monotonic()
    try:
        async with running(fast_worker(queue, {KIND: EvalRunHandler(lambda: deps)}, lease_s=60)):
            done = await eventually(lambda: queue.get(job.id), lambda j: j.finished, within_s=3600)
    finally:
        for entry in services.gateway.catalog.entries():
            await entry.backend.close()
        services.db.close()
    result = done.result or {}
    return {
        "suite": name,
        "status": done.status,
        "result_counts": result.get("result_counts"),
        "scores": {
            k: {
                "pass_rate": round(v["pass_rate"] or 0.0, 3),
                "ci95": [round(x, 3) for x in v["pass_rate_ci95"]],
                **({"acc_norm": round(v["acc_norm"], 3)} if "acc_norm" in v else {}),
            }
            for k, v in (result.get("scores") or {}).items()
        },
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="+", choices=sorted(suites.SUITES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for name in args.suites:
        print(asyncio.run(run_suite(name, args.threads)), flush=True)


if __name__ == "__main__":
    main()
