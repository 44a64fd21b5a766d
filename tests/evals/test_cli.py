"""`corral eval` at the command line: the operator creates an eval, queues a run and reads
it back; `verify` checks a manifest offline and says when it has been changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner, Result

from corral.cli import cli
from corral.evals.manifest import SigningKey
from tests.evals.test_runner import CRITERIA, ITEMS


def corral(home: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CORRAL_")}
    env["CORRAL_HOME"] = str(home)
    return CliRunner().invoke(cli(list(args)), list(args), env=env)


def test_an_operator_creates_an_eval_and_queues_a_run(tmp_path: Path) -> None:
    definition = tmp_path / "eval.json"
    definition.write_text(
        json.dumps(
            {
                "name": "capitals",
                "data_source_config": {"type": "custom"},
                "testing_criteria": CRITERIA,
            }
        )
    )
    source = tmp_path / "source.json"
    template = [{"role": "user", "content": "Capital of {{item.country}}"}]
    source.write_text(
        json.dumps(
            {
                "type": "completions",
                "model": "any",
                "source": {"type": "file_content", "content": ITEMS},
                "input_messages": {"type": "template", "template": template},
            }
        )
    )

    eval_id = corral(tmp_path, "eval", "create", str(definition)).stdout.strip()
    run_id = corral(tmp_path, "eval", "run", eval_id, "--data-source", str(source)).stdout.strip()
    shown = json.loads(corral(tmp_path, "eval", "show", run_id).stdout)
    listed = json.loads(corral(tmp_path, "eval", "list", "--json").stdout)

    assert eval_id.startswith("eval_") and run_id.startswith("evalrun_")
    assert (shown["status"], shown["progress"]["total"]) == ("queued", 6)
    assert [e["id"] for e in listed["data"]] == [eval_id]


def test_verify_accepts_a_signed_manifest_and_refuses_a_changed_one(tmp_path: Path) -> None:
    key = SigningKey.load_or_create(tmp_path)
    signed = key.sign({"scores": {"exact": {"pass_rate": 0.5}}})
    good = tmp_path / "good.json"
    good.write_text(json.dumps(signed))
    signed["manifest"]["scores"]["exact"]["pass_rate"] = 1.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(signed))

    ok = corral(tmp_path, "eval", "verify", str(good), "--key", key.public_json()["public_key"])
    refused = corral(tmp_path, "eval", "verify", str(bad))

    assert ok.exit_code == 0 and "valid: signed by the trusted key" in ok.stdout
    assert refused.exit_code == 1
    assert "NOT VALID: the signature does not match" in refused.stderr


def test_a_worker_builds_its_eval_gateway_from_the_configuration(tmp_path: Path) -> None:
    from corral.cli.worker import job_handlers
    from corral.evals.runner import EvalRunHandler
    from corral.settings import load_settings
    from corral.storage import open_database

    settings = load_settings(home=tmp_path, embedded_model=False)
    db = open_database(settings)
    try:
        handler = job_handlers(db, settings)["eval_run"]
    finally:
        db.close()
    assert isinstance(handler, EvalRunHandler)
    deps = handler.deps()
    assert deps.model_facts("not-configured") == {"id": "not-configured"}
    assert deps.gateway.catalog.entries() == []


def test_an_operator_runs_a_built_in_suite(tmp_path: Path) -> None:
    listed = corral(tmp_path, "eval", "suites", "--json")
    names = [s["name"] for s in json.loads(listed.stdout)["data"]]
    eval_id = corral(tmp_path, "eval", "create", "--suite", "mc-reading-de").stdout.strip()
    run = corral(tmp_path, "eval", "run", eval_id, "--suite", "mc-reading-de", "--model", "m")
    shown = json.loads(corral(tmp_path, "eval", "show", run.stdout.strip()).stdout)
    missing = corral(tmp_path, "eval", "run", eval_id, "--suite", "mc-reading-de")

    assert names == ["mc-reading-en", "mc-reading-de", "arithmetic", "json-schema", "privacy-probe"]
    assert eval_id.startswith("eval_") and shown["progress"]["total"] == 42
    assert missing.exit_code != 0
