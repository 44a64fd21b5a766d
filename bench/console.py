"""Benchmark: the console's pages, server time per page with 10,000 ledger rows for the tenant.

Target (issue 23): every console page answers in <= 20 ms median with 10k usage rows for the
tenant on SQLite; the console ships <= 150 KB of JS + CSS uncompressed.

Method. A fresh CORRAL_HOME (SQLite) gets one tenant with a budget and a key. `--rows` ledger
rows (default 10,000) for this month, over 4 models and 3 keys, are written to `usage_records`
and rolled up into `usage_daily` as corral's settlement does (one row per day, model, key and
price). The tenant also gets 20 conversations of 10 turns. The app `corral serve` runs
(`create_app(build_services(...))`, with an echo model instead of the embedded one, which no
page here calls) is served by uvicorn on loopback; a session is opened by signing in. Each page
is fetched once to warm up, then `--runs` times (the operator's pages with a session of the
admin key; its usage page, every tenant's, is listed as `/console/usage?operator`); the figure
is the time from sending the request to the last byte of the answer, measured by the client on
loopback: an upper bound of the server's own time.

Run: `.venv/bin/python bench/console.py` (also part of `make bench`; options `--rows`,
`--runs`). Results: the table, and `bench/results/console.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import insert

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from corral.api.console.render import HERE
from corral.catalog import Catalog, ModelEntry
from corral.evals.manifest import SigningKey
from corral.evals.runner import KIND as EVAL_RUN
from corral.finetune.params import KIND as FINE_TUNE
from corral.jobs import Entry
from corral.jobs.model import Claim
from corral.privacy.audit import PartnerCall
from corral.services import Services, build_services
from corral.settings import load_settings
from corral.storage.tables import ConsoleConversation, UsageDaily, UsageRecord

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the echo model is the tests' fake (no page here runs it)
from tests.fakes import EchoBackend  # noqa: E402

TARGET_MS = 20.0
ASSET_BUDGET_BYTES = 150 * 1024
ADMIN_KEY = "bench-admin-key"
MODELS = [
    ("open-a", "open", 0, 0),
    ("prem-b", "premium", 2_000_000, 8_000_000),
    ("prem-c", "premium", 500_000, 1_500_000),
    ("part-d", "partner", 3_000_000, 15_000_000),
]


def _services(home: Path) -> Services:
    settings = load_settings(home=home, embedded_model=False)
    entry = ModelEntry(
        id="echo",
        tier="open",
        licence=None,
        context_length=4096,
        created=0,
        owned_by="bench",
        backend=EchoBackend(),
    )
    return build_services(settings, SecretStr(ADMIN_KEY), catalog=Catalog([entry], {}))


def _fill(services: Services, rows: int) -> str:
    admin = services.accounts.admin
    tenant = admin.create_tenant("bench", budget_micros=50_000_000)
    keys = [admin.create_key(tenant.id, KeySpec(name=f"k{i}"))[1] for i in range(3)]
    key_ids = ["key_" + k.split("_")[1] for k in keys]
    today = dt.datetime.now(dt.UTC)
    first = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max(1.0, (today - first).total_seconds())
    rng = random.Random(7)
    ledger: list[dict[str, Any]] = []
    daily: dict[tuple[Any, ...], list[int]] = {}
    for i in range(rows):
        model, tier, pin, pout = MODELS[i % len(MODELS)]
        key_id = key_ids[i % 3]
        started = first + dt.timedelta(seconds=rng.random() * span)
        prompt, completion = rng.randint(10, 2000), rng.randint(1, 800)
        cost = (prompt * pin + completion * pout + 500_000) // 1_000_000
        ledger.append(
            dict(
                request_id=f"req_{i}",
                tenant_id=tenant.id,
                key_id=key_id,
                model=model,
                tier=tier,
                prompt_tokens=prompt,
                completion_tokens=completion,
                input_price_micros=pin,
                output_price_micros=pout,
                cost_micros=cost,
                outcome="completed",
                started_at=started,
                ended_at=started,
            )
        )
        sums = daily.setdefault((started.date(), model, tier, key_id, pin, pout), [0, 0, 0, 0])
        for j, value in enumerate((1, prompt, completion, cost)):
            sums[j] += value
    turns = [{"role": r, "content": "word " * 40} for r in ("user", "assistant") * 5]
    with services.db.write() as session:
        session.execute(insert(UsageRecord), ledger)
        session.execute(
            insert(UsageDaily),
            [
                dict(
                    tenant_id=tenant.id,
                    day=d,
                    model=m,
                    tier=t,
                    key_id=k,
                    input_price_micros=pi,
                    output_price_micros=po,
                    requests=s[0],
                    prompt_tokens=s[1],
                    completion_tokens=s[2],
                    cost_micros=s[3],
                )
                for (d, m, t, k, pi, po), s in daily.items()
            ],
        )
        session.execute(
            insert(ConsoleConversation),
            [
                dict(
                    id=f"conv_bench{i:04d}",
                    tenant_id=tenant.id,
                    title=f"Conversation {i}",
                    model="echo",
                    system_prompt=None,
                    messages=turns,
                    created_at=today,
                    updated_at=today,
                )
                for i in range(20)
            ],
        )
    return keys[0]


def _fill_work(services: Services) -> tuple[str, str]:
    """A finished fine-tuning job with 500 logged steps, a finished eval run with its signed
    manifest, and 200 audited partner calls (bodies kept): the detail and operator pages."""
    tenant_id = services.accounts.admin.get_tenant("bench").id
    steps = [
        Entry(f"Step {s}", {"step": s, "train_loss": 3 / s**0.5, "valid_loss": 3.2 / s**0.4})
        for s in range(1, 501)
    ]
    hyper = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.0}
    job_params = {"model": "echo", "training_file": "file-t", "seed": 1, "hyperparameters": hyper}
    job_result = {"fine_tuned_model": "ft:echo:bench", "trained_tokens": 9000}
    body = {
        "run": {"eval_id": "eval_b", "testing_criteria": [{"name": "x", "type": "string_check"}]},
        "model": {"id": "echo", "digest": None},
        "dataset": {"sha256": "0" * 64},
        "items": [{"index": i, "status": "pass"} for i in range(200)],
        "scores": {"x": {"n": 200, "pass_rate": 1.0, "pass_rate_ci95": [1.0, 1.0]}},
    }
    signed = SigningKey.load_or_create(services.settings.home).sign(body)
    run_params = {"eval_id": "eval_b", "name": "bench", "data_source": {"model": "echo"}}

    async def finish(kind: str, params: dict[str, Any], events: list[Entry], result: Any) -> str:
        job = await services.jobs.submit(kind, tenant_id, params)
        claimed = await services.jobs.claim_next("bench", [kind], 60)
        assert claimed is not None
        claim = Claim(job.id, "bench", claimed.attempts)
        await services.jobs.update(claim, events)
        await services.jobs.finish(claim, "succeeded", result=result)
        return job.id

    job_id = asyncio.run(finish(FINE_TUNE, job_params, steps, job_result))
    run_id = asyncio.run(finish(EVAL_RUN, run_params, [], {"manifest": signed}))
    for i in range(200):
        sent = '[{"role": "user", "content": "mail [EMAIL_1] now"}]'
        call = PartnerCall(f"req_p{i}", tenant_id, "key_b", "part-d", "openai", "pseudonymize",
                           {"EMAIL": 1}, sent=sent, received="ok")  # fmt: skip
        services.audit.record(call, retention_hours=24)
    return job_id, run_id


def _serve(services: Services) -> tuple[uvicorn.Server, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        services = _services(Path(home))
        key = _fill(services, args.rows)
        job_id, run_id = _fill_work(services)
        server, base = _serve(services)
        pages = [
            (key, "/console/chat"),
            (key, "/console/chat/conv_bench0007"),
            (key, "/console/tasks"),
            (key, "/console/keys"),
            (key, "/console/licences"),
            (key, "/console/usage"),
            (key, "/console/fine-tuning"),
            (key, "/console/evals"),
            (key, "/console/sign-in"),
            (ADMIN_KEY, "/console/operator/tenants"),
            (ADMIN_KEY, "/console/operator/access"),
            (ADMIN_KEY, "/console/usage?operator"),
            (key, f"/console/fine-tuning/{job_id}"),
            (key, f"/console/evals/runs/{run_id}"),
            (ADMIN_KEY, "/console/operator/prices"),
            (ADMIN_KEY, "/console/operator/audit"),
            (ADMIN_KEY, "/console/operator/health"),
        ]
        results = {}
        with httpx.Client(base_url=base) as tenant, httpx.Client(base_url=base) as operator:
            clients = {key: tenant, ADMIN_KEY: operator}
            for signing_key, client in clients.items():
                response = client.post("/console/sign-in", data={"key": signing_key})
                assert response.status_code == 303
            for signing_key, path in pages:
                client = clients[signing_key]
                assert client.get(path).status_code == 200, path
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    times.append((time.perf_counter() - start) * 1000)
                results[path] = {
                    "median_ms": round(statistics.median(times), 2),
                    "max_ms": round(max(times), 2),
                }
        server.should_exit = True
    assets = {p.name: p.stat().st_size for p in (HERE / "static").iterdir()}
    report = {
        "rows": args.rows,
        "runs": args.runs,
        "target_ms": TARGET_MS,
        "pages": results,
        "assets_bytes": assets,
        "assets_total_bytes": sum(assets.values()),
        "assets_budget_bytes": ASSET_BUDGET_BYTES,
    }
    for path, figures in results.items():
        verdict = "ok" if figures["median_ms"] <= TARGET_MS else "OVER"
        print(
            f"{path[:44]:44} median {figures['median_ms']:7.2f} ms  max {figures['max_ms']:7.2f} ms"
            f"  {verdict}"
        )
    print(f"JS + CSS: {report['assets_total_bytes']} bytes (budget {ASSET_BUDGET_BYTES})")
    out = Path(__file__).parent / "results" / "console.json"
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
