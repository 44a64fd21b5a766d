"""Benchmark: corral's multiple-choice evaluator against lm-evaluation-harness on the same items.

Both score the same 4-way items on the embedded model served by one `corral serve`, either a
question/choices/answer JSONL (`--corpus`, mc40 unless given) or a built-in suite
(`--suite mc-reading-en`: the run names the suite as its source and uses its own criterion;
lm-eval reads the suite's file with the same context template, `item.` dropped):

* corral: an eval with a `multiple_choice` criterion (context `Question: ...\\nAnswer:`, each
  option after it), run as a job by a `corral worker` through the gateway: every option a
  log-likelihood, the context's KV cells kept between the options of an item, no HTTP per
  option. Timed from the run's creation to its completion, as its owner waits for it.
* lm-eval: `local-completions` against the same server (`scripts/clients/lm_eval_mc40.py`,
  lm-eval's defaults: tokenised requests, batches of 4), in its own venv under `.clients/`
  (made on first use, as `scripts/clients_check.py` makes it). Timed from its start to its
  results, as its user waits for it (its own start-up included, which is part of that wait).

Reported: each item's pick by both, how many agree, both accuracies, and the ratio of corral's
time to lm-eval's (target <= 0.5), with the load average. Results go to
`bench/results/evals.json`, one entry per corpus or suite (a run replaces its own entry only).

Run: `PYTHONPATH=src .venv/bin/python bench/evals.py [--corpus FILE | --suite NAME]
[--skip-install]`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from corral.evals import suites
from corral.settings import EMBEDDED_MODEL_NAME, load_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test support starts `corral serve` as the tests do
sys.path.insert(0, str(ROOT / "scripts"))

from tests.support import ADMIN_KEY, corral_env, start_server  # noqa: E402

from clients_check import LM_EVAL, python_for  # noqa: E402

CORPUS = ROOT / "corpus" / "multiple_choice" / "mc40.jsonl"
RESULTS = ROOT / "bench" / "results" / "evals.json"
CRITERION = {
    "type": "multiple_choice",
    "name": "mc",
    "input": "Question: {{item.question}}\nAnswer:",
    "choices": "{{item.options}}",
    "answer": "{{item.answer}}",
}


@dataclass(frozen=True, slots=True)
class Target:
    """What both score: its name, items, the file lm-eval reads and its context template."""

    name: str
    items: list[dict[str, Any]]
    corpus: Path
    context: str
    suite: suites.Suite | None = None


def target(corpus: Path | None, suite: str | None, work: Path) -> Target:
    if suite is None:
        path = corpus or CORPUS
        items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return Target(path.stem, items, path, CRITERION["input"].replace("item.", ""))
    chosen = suites.get(suite)
    criteria = chosen.testing_criteria
    if [c["type"] for c in criteria] != ["multiple_choice"] or criteria[0]["choice_prefix"] != " ":
        raise SystemExit(f"{suite} is not a multiple-choice suite")
    path = work / chosen.file  # the suite's own bytes: lm-eval reads the items corral runs
    path.write_bytes(chosen.data())
    items = chosen.items()[0]
    return Target(suite, items, path, criteria[0]["input"].replace("item.", ""), chosen)


def corral_run(client: openai.OpenAI, scored: Target) -> tuple[float, list[int]]:
    """Seconds from the run's creation to its end, and each item's pick."""
    if scored.suite is not None:
        config: Any = scored.suite.data_source_config()
        criteria: Any = scored.suite.testing_criteria
        source: Any = scored.suite.data_source(EMBEDDED_MODEL_NAME)
    else:
        # lm-eval puts a space between context and option (its target delimiter): so do these.
        rows = [{"item": {**i, "options": [" " + c for c in i["choices"]]}} for i in scored.items]
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        upload = client.files.create(file=("items.jsonl", io.BytesIO(data)), purpose="evals")
        config = {"type": "custom", "item_schema": {"type": "object"}}
        criteria = [CRITERION]
        source = {
            "type": "completions",
            "model": EMBEDDED_MODEL_NAME,
            "source": {"type": "file_id", "id": upload.id},
        }
    made = client.evals.create(name="mc", data_source_config=config, testing_criteria=criteria)
    started = time.perf_counter()
    run_id = client.evals.runs.create(made.id, data_source=source).id
    run = client.evals.runs.retrieve(run_id, eval_id=made.id)
    while run.status in ("queued", "in_progress"):
        time.sleep(0.05)
        run = client.evals.runs.retrieve(run_id, eval_id=made.id)
    seconds = time.perf_counter() - started
    if run.status != "completed":
        raise SystemExit(f"the corral run ended {run.status}: {run.model_dump()}")
    graded = client.evals.runs.output_items.list(run.id, eval_id=made.id, limit=100)
    picks = {i.datasource_item_id: _chosen(i.model_dump()) for i in graded}
    return seconds, [picks[i] for i in range(len(scored.items))]


def _chosen(item: dict[str, Any]) -> int:
    """The option a graded item picked (the `multiple_choice` grade's detail)."""
    return int(item["results"][0]["detail"]["chosen"])


def lm_eval_run(python: str, base_url: str, scored: Target) -> tuple[float, list[int], float]:
    """Seconds of lm-eval's whole run, its picks and its accuracy."""
    gguf = load_settings(embedded_model=True).embedded_model_path
    env = {
        **os.environ,
        "CORRAL_BASE_URL": f"{base_url}/v1",
        "CORRAL_API_KEY": ADMIN_KEY,
        "CORRAL_MODEL": EMBEDDED_MODEL_NAME,
    }
    script = ROOT / "scripts" / "clients" / "lm_eval_mc40.py"
    started = time.perf_counter()
    done = subprocess.run(
        [python, str(script), str(gguf), str(scored.corpus), scored.context],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"lm-eval failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, answer["picks"], float(answer["acc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--corpus", type=Path, help="question/choices/answer JSONL (mc40)")
    which.add_argument("--suite", choices=list(suites.SUITES), help="a built-in suite")
    parser.add_argument("--skip-install", action="store_true", help="lm-eval's venv exists")
    args = parser.parse_args()
    python, version = python_for("lmeval", LM_EVAL, ROOT / ".clients", not args.skip_install)
    with tempfile.TemporaryDirectory() as home:
        scored = target(args.corpus, args.suite, Path(home))
        server = start_server(Path(home))
        worker = subprocess.Popen(
            [sys.executable, "-m", "corral", "worker"],
            env=corral_env(Path(home)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY)
            client.completions.create(model=EMBEDDED_MODEL_NAME, prompt="warm up", max_tokens=1)
            ours_s, ours = corral_run(client, scored)
            theirs_s, theirs, theirs_acc = lm_eval_run(python, server.base_url, scored)
        finally:
            worker.terminate()
            worker.wait(30)
            server.stop()
        report(scored, version, (ours_s, ours), (theirs_s, theirs, theirs_acc))


def report(
    scored: Target,
    version: str,
    ours: tuple[float, list[int]],
    theirs: tuple[float, list[int], float],
) -> None:
    items = scored.items
    same = sum(a == b for a, b in zip(ours[1], theirs[1], strict=True))
    acc = sum(p == i["answer"] for p, i in zip(ours[1], items, strict=True)) / len(items)
    corpus = scored.corpus
    shown = str(corpus.relative_to(ROOT)) if corpus.is_relative_to(ROOT) else str(corpus)
    result = {
        "corpus": f"built-in suite {scored.name}" if scored.suite else shown,
        "suite": scored.suite and {"name": scored.name, "sha256": scored.suite.items()[1]},
        "context": scored.context,
        "items": len(items),
        "same_picks": f"{same}/{len(items)}",
        "corral_acc": acc,
        "lm_eval_acc": theirs[2],
        "lm_eval_version": version,
        "corral_s": round(ours[0], 2),
        "lm_eval_s": round(theirs[0], 2),
        "ratio": round(ours[0] / theirs[0], 3),
        "differing_items": [
            i for i, (a, b) in enumerate(zip(ours[1], theirs[1], strict=True)) if a != b
        ],
        "picks": ours[1],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(f"{'':34}{'seconds':>10}{'acc':>8}")
    print(f"{'corral eval run (multiple_choice)':34}{ours[0]:>10.2f}{acc:>8.3f}")
    print(f"{version + ' local-completions':34}{theirs[0]:>10.2f}{theirs[2]:>8.3f}")
    print(f"ratio {result['ratio']} (target <= 0.5); same picks {same}/{len(items)}")
    print(f"load average {result['load_average']} on {result['cpus']} CPUs")
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**kept, scored.name: result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
