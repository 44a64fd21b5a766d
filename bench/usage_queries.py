"""Benchmark: a month's usage report and invoice over 10 million ledger rows in PostgreSQL.

Target (from the issue): `GET /v1/usage` for a month and `corral invoice` answer in under
200 ms with 10^7 ledger rows in PostgreSQL. The reference gateway's known failure: its spend
queries summed raw request logs and took ~97 s at 10^7 rows.

Method. A temporary PostgreSQL database is created and migrated with corral's own
`open_database`. `usage_records` (the ledger) gets `--rows` rows (default 10,000,000) in
server-side `INSERT ... SELECT ... FROM generate_series` chunks: 12 months from 2025-12-01 in
time order (as an append-only ledger grows), 50 tenants, 3 keys each, 4 models at their own
prices, varied token counts, costs rounded half up as corral does. `usage_daily` (the rollup
corral maintains in each request's settlement transaction) is then filled from the ledger with
one `INSERT ... SELECT ... GROUP BY`, and both tables are ANALYZEd.

Then, for one tenant and one month (June 2026, ~16,700 ledger rows of that tenant), each of
these is run once to warm the cache and then `--runs` times; the table shows the median (and the
slowest) against the 200 ms target:

* `GET /v1/usage` for the month: `UsageReports.daily(...)` for the tenant, then the response
  model `UsageReport.of(...)` serialised to JSON, as the endpoint does (no HTTP server).
* `corral invoice`: `UsageReports.invoice(...)` and its JSON form.
* For reference, what a gateway without the rollup does: sum the raw ledger for the same
  tenant-month (with the ledger's (tenant_id, started_at) index), for every tenant's month
  (the operator's monthly view), and every tenant's all-time spend (the reference gateway's
  failing query shape: a scan of all 10^7 rows).

The invoice is checked against the raw ledger's sums for the same tenant-month. The database is
dropped at the end, also after a failure or Ctrl-C. The fill takes about 2-3 minutes on 2 cores.

Run: `.venv/bin/python bench/usage_queries.py` (also part of `make bench`); options `--rows`,
`--runs`. `CORRAL_BENCH_POSTGRES` points at another server. Results: the table, and
`bench/results/usage_queries.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from corral.api.usage.protocol import UsageReport
from corral.metering.usage import InvoiceLine, UsageReports, month_range
from corral.settings import load_settings
from corral.storage import Database, open_database

TARGET_MS = 200.0
POSTGRES_SERVER = os.environ.get(
    "CORRAL_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432/postgres"
)
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "usage_queries.json"
TENANTS, KEYS_PER_TENANT = 50, 3
FIRST_DAY, DAYS = dt.date(2025, 12, 1), 365
MONTH, TENANT = "2026-06", 7
CHUNK = 1_000_000
# (model, tier, input price, output price): micro-units per million tokens
MODELS = [
    ("llama-3.1-8b-instruct", "open", 0, 0),
    ("avocado-large", "premium", 3_000_000, 15_000_000),
    ("avocado-small", "premium", 500_000, 1_500_000),
    ("gemini-partner", "partner", 1_250_000, 5_000_000),
]


def tenant_id(n: int) -> str:
    return f"ten_{n:016d}"


def sql_array(values: list[Any]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values) + "]"


# One ledger row per g: tenant by g, model by g / 50, key by g / 200 (independent spreads);
# started_at grows with g, over DAYS days. Costs round half up, as `cost_micros` does.
FILL = f"""
INSERT INTO usage_records (request_id, tenant_id, key_id, model, tier, prompt_tokens,
    completion_tokens, input_price_micros, output_price_micros, cost_micros, outcome,
    started_at, ended_at)
SELECT 'req_' || g, t, t || '_key' || (g / 200) % {KEYS_PER_TENANT}, model, tier, p, c, ip, op,
       (p * ip + c * op + 500000) / 1000000,
       CASE WHEN g % 97 = 0 THEN 'cancelled' ELSE 'completed' END,
       at, at + interval '2 seconds'
FROM (
    SELECT g,
           'ten_' || lpad((g % {TENANTS} + 1)::text, 16, '0') AS t,
           ({sql_array([m[0] for m in MODELS])})[(g / 50) % 4 + 1] AS model,
           ({sql_array([m[1] for m in MODELS])})[(g / 50) % 4 + 1] AS tier,
           ({sql_array([m[2] for m in MODELS])}::bigint[])[(g / 50) % 4 + 1] AS ip,
           ({sql_array([m[3] for m in MODELS])}::bigint[])[(g / 50) % 4 + 1] AS op,
           ((g * 7919) % 2000 + 1)::bigint AS p,
           ((g * 104729) % 500 + 1)::bigint AS c,
           timestamptz '{FIRST_DAY.isoformat()} 00:00:00+00'
               + (g - 1) * (interval '{DAYS} days' / :total) AS at
    FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g
) AS rows
"""

ROLLUP = """
INSERT INTO usage_daily
SELECT coalesce(tenant_id, ''), (started_at AT TIME ZONE 'UTC')::date, model, tier, key_id,
       input_price_micros, output_price_micros, count(*), sum(prompt_tokens),
       sum(completion_tokens), sum(cost_micros)
FROM usage_records
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

NAIVE_TENANT_MONTH = """
SELECT model, tier, input_price_micros, output_price_micros, count(*), sum(prompt_tokens),
       sum(completion_tokens), sum(cost_micros)
FROM usage_records
WHERE tenant_id = :tenant AND started_at >= :start AND started_at < :end
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3
"""

NAIVE_ALL_TENANTS_MONTH = """
SELECT tenant_id, model, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_micros)
FROM usage_records WHERE started_at >= :start AND started_at < :end GROUP BY 1, 2
"""

NAIVE_ALL_TIME_SPEND = "SELECT tenant_id, sum(cost_micros) FROM usage_records GROUP BY 1"


@contextmanager
def temporary_database() -> Iterator[Database]:
    """A migrated database of this run's own, dropped afterwards whatever happens."""
    name = f"corral_bench_usage_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    db = None
    try:
        db = open_database(load_settings(database_url=f"{base}/{name}", embedded_model=False))
        yield db
    finally:
        if db is not None:
            db.close()
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped database {name}")


def fill(engine: Engine, rows: int) -> dict[str, float]:
    """The ledger, then its rollup, as corral would have written them; seconds per step."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, name, policy, created_at, updated_at) "
                "SELECT 'ten_' || lpad(n::text, 16, '0'), 'tenant-' || n, 'allow', now(), now() "
                "FROM generate_series(1, :n) AS n"
            ),
            {"n": TENANTS},
        )
    for low in range(1, rows + 1, CHUNK):
        high = min(rows, low + CHUNK - 1)
        with engine.begin() as conn:
            conn.execute(text(FILL), {"low": low, "high": high, "total": rows})
        elapsed = time.perf_counter() - started
        print(f"  ledger: {high:>11,} / {rows:,} rows  ({elapsed:5.1f} s)", flush=True)
    seconds["ledger_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL work_mem = '256MB'"))  # aggregate in memory, not on disk
        daily = conn.execute(text(ROLLUP)).rowcount
    seconds["rollup_s"] = time.perf_counter() - started
    print(f"  rollup: {daily:,} usage_daily rows ({seconds['rollup_s']:.1f} s)", flush=True)
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE usage_records"))
        conn.execute(text("VACUUM ANALYZE usage_daily"))
    seconds["vacuum_analyze_s"] = time.perf_counter() - started
    seconds["usage_daily_rows"] = daily
    return seconds


def timed(run: Callable[[], object], runs: int) -> dict[str, float]:
    """One warm-up, then `runs` timed runs: median and slowest, in ms."""
    run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


def raw(engine: Engine, sql: str, **params: Any) -> Callable[[], list[Any]]:
    def query() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    return query


def measure(db: Database, runs: int) -> dict[str, dict[str, Any]]:
    reports = UsageReports(db, "USD")
    tenant = tenant_id(TENANT)
    first, last = month_range(MONTH)
    span = (first, last)
    bounds = {"start": first, "end": last + dt.timedelta(days=1)}

    def usage_endpoint() -> str:
        rows = reports.daily(first, last, tenant_id=tenant)
        return UsageReport.of(rows, reports.currency, span, with_tenant=False).model_dump_json()

    def invoice() -> str:
        return json.dumps(reports.invoice(tenant, f"tenant-{TENANT}", MONTH).as_json())

    queries: dict[str, tuple[str, Callable[[], object]]] = {
        "usage_month": ("GET /v1/usage, one tenant-month (rollup)", usage_endpoint),
        "invoice_month": ("corral invoice, one tenant-month (rollup)", invoice),
        "operator_usage_month": (
            "operator's usage, all tenants' month (rollup)",
            lambda: reports.daily(first, last),
        ),
        "naive_tenant_month": (
            "reference: raw ledger, one tenant-month (indexed)",
            raw(db.engine, NAIVE_TENANT_MONTH, tenant=tenant, **bounds),
        ),
        "naive_all_tenants_month": (
            "reference: raw ledger, all tenants' month",
            raw(db.engine, NAIVE_ALL_TENANTS_MONTH, **bounds),
        ),
        "naive_all_time_spend": (
            "reference: raw ledger, all-time spend per tenant",
            raw(db.engine, NAIVE_ALL_TIME_SPEND),
        ),
    }
    results = {}
    for key, (label, run) in queries.items():
        print(f"  timing: {label} ...", flush=True)
        stats = timed(run, runs if key != "naive_all_time_spend" else max(3, runs // 2))
        ratio = stats["median_ms"] / TARGET_MS
        results[key] = {"label": label, **stats, "ratio_to_target": round(ratio, 3)}
    return results


def check_invoice(db: Database) -> dict[str, Any]:
    """The rollup's invoice equals the raw ledger's sums for the same tenant-month."""
    first, last = month_range(MONTH)
    bounds = {"start": first, "end": last + dt.timedelta(days=1)}
    ledger = raw(db.engine, NAIVE_TENANT_MONTH, tenant=tenant_id(TENANT), **bounds)()
    bill = UsageReports(db, "USD").invoice(tenant_id(TENANT), f"tenant-{TENANT}", MONTH)
    lines = [
        (x.model, x.tier, x.input_price_micros, x.output_price_micros, *totals(x))
        for x in bill.lines
    ]
    expected = [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in ledger]
    if lines != expected:
        raise SystemExit(f"invoice {lines} differs from the ledger's sums {expected}")
    return {
        "invoice_equals_ledger": True,
        "tenant_month_ledger_rows": sum(line[4] for line in lines),
        "invoice_total": bill.as_json()["total"],
    }


def totals(line: InvoiceLine) -> tuple[int, int, int, int]:
    return line.requests, line.input_tokens, line.output_tokens, line.amount_micros


def print_table(results: dict[str, dict[str, Any]], rows: int) -> None:
    table = Table(title=f"Usage queries over {rows:,} ledger rows (PostgreSQL), target < 200 ms")
    for column in ("query", "median ms", "slowest ms", "target ms", "ratio"):
        table.add_column(column, justify="left" if column == "query" else "right")
    for result in results.values():
        verdict = "meets" if result["median_ms"] < TARGET_MS else "misses"
        table.add_row(
            result["label"],
            f"{result['median_ms']:.2f}",
            f"{result['max_ms']:.2f}",
            f"{TARGET_MS:g}",
            f"{result['ratio_to_target']:.3f} ({verdict})",
        )
    console = Console(width=120)
    console.print(table)
    console.print(
        "ratio = median / 200 ms; reference rows are what a gateway without the rollup does"
    )


def server_facts(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar()
        size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
        shared = conn.execute(text("SHOW shared_buffers")).scalar()
        return {"server_version": version, "database_size": size.scalar(), "shared_buffers": shared}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Usage reports over a large ledger")
    parser.add_argument("--rows", type=int, default=10_000_000, help="ledger rows to create")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query")
    opts = parser.parse_args(argv)
    with temporary_database() as db:
        print(f"filling {opts.rows:,} ledger rows ...", flush=True)
        fill_seconds = fill(db.engine, opts.rows)
        check = check_invoice(db)
        results = measure(db, opts.runs)
        facts = server_facts(db.engine)
    print_table(results, opts.rows)
    output = {
        "target_ms": TARGET_MS,
        "ledger_rows": opts.rows,
        "tenant": tenant_id(TENANT),
        "month": MONTH,
        "runs": opts.runs,
        "fill": {k: round(v, 1) for k, v in fill_seconds.items()},
        "check": check,
        "postgresql": facts,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "queries": results,
    }
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(output, indent=2) + "\n")
    print(f"results written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
