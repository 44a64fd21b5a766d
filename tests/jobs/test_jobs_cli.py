"""`corral jobs` and `corral worker` at the command line (SQLite in CORRAL_HOME)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner, Result

from corral.cli import cli
from corral.errors import ConfigError


def corral(home: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CORRAL_")}
    env["CORRAL_HOME"] = str(home)
    return CliRunner().invoke(cli(list(args)), list(args), env=env)


def test_an_operator_queues_reads_and_cancels_a_job(tmp_path: Path) -> None:
    queued = corral(tmp_path, "jobs", "sleep", "--steps", "3")
    job_id = queued.stdout.strip()

    shown = json.loads(corral(tmp_path, "jobs", "show", job_id).stdout)
    cancelled = corral(tmp_path, "jobs", "cancel", job_id)
    listed = json.loads(corral(tmp_path, "jobs", "list", "--json").stdout)
    events = corral(tmp_path, "jobs", "events", job_id).stdout

    assert (shown["kind"], shown["status"], shown["progress"]["total"]) == ("sleep", "queued", 3)
    assert cancelled.stdout.strip() == f"{job_id}: cancelled"
    assert [(job["id"], job["status"]) for job in listed["data"]] == [(job_id, "cancelled")]
    assert "Job created" in events and "Job cancelled" in events


def test_a_worker_refuses_a_kind_it_does_not_know(tmp_path: Path) -> None:
    result = corral(tmp_path, "worker", "--kind", "nope")

    assert isinstance(result.exception, ConfigError)
    assert "unknown job kind nope (known: eval_run, fine_tuning, sleep)" in str(result.exception)
