"""`corral finetune` against a temporary CORRAL_HOME: a job is queued for a tenant's training
file (checked as the API checks it), read and cancelled with `corral jobs`, and followed with
`watch` to its end; a wrong request is one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

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
