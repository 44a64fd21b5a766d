"""`corral finetune` against a temporary CORRAL_HOME: a job is queued for a tenant's training
file (checked, and quoted against the budget, as the API does it), listed, shown, read and
cancelled (with `corral finetune` or `corral jobs`), and followed with `watch` to its end; a
wrong request or a bad job id is one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.settings import EMBEDDED_MODEL_NAME
from tests.cli.test_accounts import corral

EXAMPLE = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "HI"}]}


def test_a_job_is_queued_read_cancelled_and_watched(tmp_path: Path) -> None:
    assert corral(tmp_path, "tenants", "create", "acme").code == 0
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(EXAMPLE) + "\n")
    made = corral(tmp_path, "files", "upload", str(data), "--tenant", "acme",
                  "--purpose", "fine-tune", "--json").json()  # fmt: skip

    queued = corral(tmp_path, "finetune", "create", "--tenant", "acme",
                    "--model", EMBEDDED_MODEL_NAME, "--training-file", made["id"],
                    "--epochs", "2", "--suffix", "caps")  # fmt: skip
    assert queued.code == 0, queued.stderr
    job_id = queued.stdout.strip()
    assert job_id.startswith("ftjob-")
    shown = corral(tmp_path, "jobs", "show", job_id).json()
    assert (shown["kind"], shown["status"]) == ("fine_tuning", "validating_files")
    assert shown["params"]["hyperparameters"]["n_epochs"] == 2

    assert corral(tmp_path, "jobs", "cancel", job_id).code == 0
    watched = corral(tmp_path, "finetune", "watch", job_id)
    assert watched.code == 0
    assert watched.stdout.strip().endswith("cancelled")


def test_a_wrong_request_is_one_line_and_a_failure(tmp_path: Path) -> None:
    assert corral(tmp_path, "tenants", "create", "acme").code == 0
    refused = corral(tmp_path, "finetune", "create", "--tenant", "acme", "--model", "nope",
                     "--training-file", "file-none")  # fmt: skip
    assert refused.code == 1
    assert refused.stderr.strip() == "error: The model 'nope' cannot be fine-tuned here."


def queue_one(home: Path) -> str:
    data = home / "train.jsonl"
    data.write_text(json.dumps(EXAMPLE) + "\n")
    made = corral(home, "files", "upload", str(data), "--tenant", "acme",
                  "--purpose", "fine-tune", "--json").json()  # fmt: skip
    queued = corral(home, "finetune", "create", "--tenant", "acme",
                    "--model", EMBEDDED_MODEL_NAME, "--training-file", made["id"])  # fmt: skip
    assert queued.code == 0, queued.stderr
    return queued.stdout.strip()


def test_a_tenant_s_jobs_are_listed_shown_followed_and_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich's table at full width: ids unfolded
    assert corral(tmp_path, "tenants", "create", "acme").code == 0
    job_id = queue_one(tmp_path)
    assert corral(tmp_path, "jobs", "sleep", "--steps", "1").code == 0  # not a fine-tuning job

    listed = corral(tmp_path, "finetune", "list", "--tenant", "acme")
    assert listed.code == 0
    rows = [line for line in listed.stdout.splitlines() if "ftjob-" in line]
    assert len(rows) == 1 and job_id in rows[0] and "validating_files" in rows[0]
    shown = corral(tmp_path, "finetune", "show", job_id)
    assert shown.code == 0
    assert EMBEDDED_MODEL_NAME in shown.stdout and "validating_files" in shown.stdout
    assert "Job created" in corral(tmp_path, "finetune", "events", job_id).stdout

    cancelled = corral(tmp_path, "finetune", "cancel", job_id)
    assert cancelled.code == 0 and cancelled.stdout.strip() == f"{job_id}: cancelled"
    assert corral(tmp_path, "finetune", "show", job_id, "--json").json()["status"] == "cancelled"


def test_a_bad_job_id_is_one_line_and_a_failure(tmp_path: Path) -> None:
    assert corral(tmp_path, "tenants", "create", "acme").code == 0
    for command in ("show", "events", "cancel"):
        refused = corral(tmp_path, "finetune", command, "ftjob-nothing")
        assert refused.code == 1
        assert refused.stderr.strip() == "error: No such fine-tuning job: ftjob-nothing."
    sleeping = corral(tmp_path, "jobs", "sleep", "--steps", "1").stdout.strip()
    refused = corral(tmp_path, "finetune", "show", sleeping)  # a job, but not a fine-tuning one
    assert refused.code == 1 and refused.stderr.startswith("error: No such fine-tuning job")
    assert corral(tmp_path, "finetune", "list", "--tenant", "nobody").code == 1


def test_a_job_beyond_the_tenant_s_budget_is_refused_at_creation(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text("[finetuning]\ntraining_price_per_mtok = 1000\n")
    assert corral(tmp_path, "tenants", "create", "acme", "--budget", "0.01").code == 0
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(EXAMPLE) + "\n")
    made = corral(tmp_path, "files", "upload", str(data), "--tenant", "acme",
                  "--purpose", "fine-tune", "--json").json()  # fmt: skip
    refused = corral(tmp_path, "finetune", "create", "--config", str(config), "--tenant", "acme",
                     "--model", EMBEDDED_MODEL_NAME, "--training-file", made["id"],
                     "--epochs", "3")  # fmt: skip
    assert refused.code == 1
    assert refused.stderr.startswith("error: Training ") and "more than is left" in refused.stderr
    assert corral(tmp_path, "finetune", "list", "--tenant", "acme", "--json").json()["data"] == []
