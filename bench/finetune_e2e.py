"""Benchmark (issue 24's target): a 50-example job (about 3 k tokens, 3 epochs) from upload to a
servable model in <= 5 minutes on a 2-core machine.

Method: a real `corral serve` (its own job worker, SQLite, the embedded SmolLM2) in `--home`
(fresh by default: the job then makes the base's float and F32 copies, as the first job on a
base does; pass a home kept from an earlier run to time a warm one). The official `openai` SDK
uploads a 50-example JSONL of support answers in a house style (written by this script from a
table of 10 products x 5 questions: project-generated data), creates a job (3 epochs, seed 1),
polls it every 0.5 s, then asks the fine-tuned model one chat question. Stages, from the
client's clock and the job's own timestamps and events (read from the server's database):
upload (the request, with its validation, token count and PII scan), queue (created -> a worker
claims it; the server's worker looks every `[jobs] poll_s`, 2 s by default), validate (claim ->
"Files validated"), prepare (-> the first step's event: the base's float copy on a first job,
tokenising, loading; includes step 1), train (the other steps), export (-> "Adapter written"),
parity (-> "Parity check passed", with the F32 copy on a first job), publish (-> finished),
seen (-> the client's poll sees it) and first answer (one chat request, adapter loaded).

Run: `PYTHONPATH=src:. .venv/bin/python bench/finetune_e2e.py [--home DIR] [--examples 50]
[--epochs 3]` (writes bench/results/finetune_e2e.json).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' server and accounts kits

from tests.accounts_kit import accounts, sdk, sqlite_url  # noqa: E402
from tests.support import MODEL, start_server  # noqa: E402

from corral.jobs import Event, Job, JobQueue  # noqa: E402
from corral.settings import load_settings  # noqa: E402
from corral.storage import open_database  # noqa: E402

TARGET_S = 300.0
RESULTS = ROOT / "bench" / "results" / "finetune_e2e.json"
PRODUCTS = [
    ("Kettle K2", "1.7 litres", "2 years", "descale monthly with citric acid"),
    ("Toaster T4", "4 slots", "1 year", "empty the crumb tray weekly"),
    ("Blender B9", "1.5 litres", "3 years", "wash the jug by hand"),
    ("Grinder G1", "60 grams", "2 years", "brush the burrs every month"),
    ("Scale S3", "5 kilograms", "1 year", "wipe it with a dry cloth"),
    ("Mixer M7", "4.8 litres", "5 years", "oil the gears once a year"),
    ("Juicer J5", "0.8 litres", "2 years", "rinse the filter after each use"),
    ("Steamer ST2", "3 tiers", "1 year", "descale every 20 uses"),
    ("Fryer F6", "4 litres", "2 years", "change the oil every 10 uses"),
    ("Press P8", "1 litre", "3 years", "soak the mesh in warm water"),
]
SYSTEM = "You are the support assistant of Hearth Appliances."


def examples(count: int) -> list[dict[str, Any]]:
    """`count` support dialogues, each answer in the house style: "Hearth says: ... -- Hearth"."""
    made = []
    for i in range(count):
        name, size, warranty, care = PRODUCTS[i % len(PRODUCTS)]
        question, answer = [
            (f"How big is the {name}?", f"the {name} holds {size}."),
            (f"What warranty comes with the {name}?", f"the {name} has a {warranty} warranty."),
            (f"How do I clean my {name}?", f"for the {name}, {care}."),
            (f"Is the {name} covered if it breaks?", f"yes, for {warranty} from purchase."),
            (f"Tell me about the {name}.", f"the {name}: {size}, {warranty} warranty."),
        ][(i // len(PRODUCTS)) % 5]
        reply = f"Hearth says: {answer} Anything else? -- Hearth"
        made.append(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": reply},
                ]
            }
        )
    return made


def run(home: Path, count: int, epochs: int) -> dict[str, Any]:
    env = {"CORRAL_JOBS__WORKER_IN_SERVER": "true"}
    server = start_server(home, env=env)
    try:
        with accounts(home, sqlite_url(home)) as operator:
            secret = operator.tenant_with_key(f"hearth-{int(time.time())}").secret
        with sdk(server, secret) as client:
            return timed_job(client, home, count, epochs)
    finally:
        server.stop()


def timed_job(client: Any, home: Path, count: int, epochs: int) -> dict[str, Any]:
    data = b"".join(json.dumps(e).encode() + b"\n" for e in examples(count))
    t0 = time.time()
    upload = client.files.create(file=("support.jsonl", io.BytesIO(data)), purpose="fine-tune")
    uploaded = time.time()
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=upload.id,
        suffix="hearth",
        seed=1,
        hyperparameters={"n_epochs": epochs},
    )
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.5)
        job = client.fine_tuning.jobs.retrieve(job.id)
    seen = time.time()
    if job.status != "succeeded":
        raise SystemExit(f"job {job.id} {job.status}: {job.error}")
    reply = client.chat.completions.create(
        model=job.fine_tuned_model,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "What warranty comes with the Kettle K2?"},
        ],
        max_tokens=24,
        temperature=0,
    )
    answered = time.time()
    done, events = asyncio.run(_job_and_events(home, job.id))
    stages = _stages(t0, uploaded, seen, answered, done, events)
    return {
        "job_id": job.id,
        "examples": count,
        "epochs": epochs,
        "file_bytes": len(data),
        "trained_tokens": job.trained_tokens,
        "answer": reply.choices[0].message.content,
        "stages_s": stages,
        "total_s": round(answered - t0, 1),
    }


def _stages(
    t0: float, uploaded: float, seen: float, answered: float, job: Job, events: list[Event]
) -> dict[str, float]:
    def at(prefix: str) -> float:
        return next(e.created_at.timestamp() for e in events if e.message.startswith(prefix))

    steps = [e.created_at.timestamp() for e in events if e.message.startswith("Step ")]
    assert job.started_at is not None and job.finished_at is not None
    marks = [
        ("upload", t0, uploaded),
        ("queue", job.created_at.timestamp(), job.started_at.timestamp()),
        ("validate", job.started_at.timestamp(), at("Files validated")),
        ("prepare", at("Files validated"), steps[0]),
        ("train", steps[0], steps[-1]),
        ("export", steps[-1], at("Adapter written")),
        ("parity", at("Adapter written"), at("Parity check passed")),
        ("publish", at("Parity check passed"), job.finished_at.timestamp()),
        ("seen", job.finished_at.timestamp(), seen),
        ("first answer", seen, answered),
    ]
    return {name: round(end - start, 2) for name, start, end in marks}


async def _job_and_events(home: Path, job_id: str) -> tuple[Job, list[Event]]:
    db = open_database(load_settings(home=home, database_url=sqlite_url(home)))
    try:
        queue = JobQueue(db)
        return await queue.get(job_id), await queue.events(job_id, limit=10_000)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="kept after the run (default: a fresh one)")
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.home is not None:
        result = run(args.home, args.examples, args.epochs)
    else:
        with tempfile.TemporaryDirectory() as home:
            result = run(Path(home), args.examples, args.epochs)
    result |= {"target_s": TARGET_S, "load_average": [load_before, os.getloadavg()]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    report(result)


def report(result: dict[str, Any]) -> None:
    print(
        f"{result['examples']} examples, {result['epochs']} epochs, {result['file_bytes']} B, "
        f"trained tokens {result['trained_tokens']}"
    )
    for name, seconds in result["stages_s"].items():
        print(f"  {name:14}{seconds:>8.1f} s")
    total = result["total_s"]
    print(
        f"{'upload -> first answer':24}{total:>8.1f} s  target {TARGET_S:.0f} s  "
        f"ratio {total / TARGET_S:.2f}"
    )
    print(f"answer: {result['answer']!r}")
    print(f"load average before, after: {result['load_average']}")


if __name__ == "__main__":
    main()
