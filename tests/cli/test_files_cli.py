"""`corral files`, run as the operator runs it against a temporary CORRAL_HOME: an upload is
checked as the API checks it, listed, shown with its counts, deleted; bad input is one line on
stderr and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_accounts import corral

EXAMPLE = {
    "messages": [
        {"role": "user", "content": "Mail me at kim@example.org"},
        {"role": "assistant", "content": "Will do."},
    ]
}


def test_a_training_file_is_uploaded_listed_shown_and_deleted(tmp_path: Path) -> None:
    assert corral(tmp_path, "tenants", "create", "acme").code == 0
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(EXAMPLE) + "\n")

    made = corral(tmp_path, "files", "upload", str(data), "--tenant", "acme",
                  "--purpose", "fine-tune", "--json").json()  # fmt: skip
    assert made["filename"] == "train.jsonl" and made["corral"]["examples"] == 1

    listed = corral(tmp_path, "files", "list", "--tenant", "acme", "--json").json()
    assert [f["id"] for f in listed["data"]] == [made["id"]]
    shown = corral(tmp_path, "files", "show", made["id"])
    assert shown.code == 0
    assert "content: 1 lines, 1 examples" in shown.stdout
    assert "personal data (complete): 1 EMAIL" in shown.stdout
    assert "kim@example.org" not in shown.stdout

    assert corral(tmp_path, "files", "delete", made["id"]).stdout.strip() == f"deleted {made['id']}"
    gone = corral(tmp_path, "files", "show", made["id"])
    assert gone.code == 1 and gone.stderr.strip() == f"error: No such File object: {made['id']}"


def test_bad_input_is_one_line_and_a_failure(tmp_path: Path) -> None:
    assert corral(tmp_path, "tenants", "create", "acme").code == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")

    refused = corral(tmp_path, "files", "upload", str(bad), "--tenant", "acme",
                     "--purpose", "fine-tune")  # fmt: skip
    missing = corral(tmp_path, "files", "upload", str(tmp_path / "none.jsonl"),
                     "--tenant", "acme", "--purpose", "evals")  # fmt: skip
    nobody = corral(tmp_path, "files", "upload", str(bad), "--tenant", "ghost",
                    "--purpose", "user_data")  # fmt: skip

    assert refused.code == 1 and "line 1: not valid JSON" in refused.stderr
    assert missing.code == 1 and "no such file" in missing.stderr
    assert nobody.code == 1 and "No tenant named 'ghost'" in nobody.stderr
    for run in (refused, missing, nobody):
        assert len(run.stderr.strip().splitlines()) == 1
    assert corral(tmp_path, "files", "list", "--json").json()["data"] == []
