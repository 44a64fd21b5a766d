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

# A priced partner model (never called: runs are only queued here, and quoting counts
# tokens without asking the partner).
CONFIG = """
embedded_model = false

[[models]]
name = "gpt-mini"
tier = "partner"
backend = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "FAKE_OPENAI_KEY"
upstream_model = "gpt-4o-mini"
input_price_per_mtok = "1.00"
output_price_per_mtok = "2.00"
"""


def corral(home: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CORRAL_")}
    env["CORRAL_HOME"] = str(home)
    env["FAKE_OPENAI_KEY"] = "sk-fake"
    config = home / "corral.toml"
    if not config.exists():
        config.write_text(CONFIG)
    env["CORRAL_CONFIG"] = str(config)
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
                "model": "gpt-mini",
                "source": {"type": "file_content", "content": ITEMS},
                "input_messages": {"type": "template", "template": template},
            }
        )
    )

    eval_id = corral(tmp_path, "eval", "create", str(definition)).stdout.strip()
    queued = corral(tmp_path, "eval", "run", eval_id, "--data-source", str(source))
    run_id = queued.stdout.strip()
    shown = json.loads(corral(tmp_path, "eval", "show", run_id).stdout)
    listed = json.loads(corral(tmp_path, "eval", "list", "--json").stdout)

    assert eval_id.startswith("eval_") and run_id.startswith("evalrun_")
    assert (shown["status"], shown["progress"]["total"]) == ("queued", 6)
    assert [e["id"] for e in listed["data"]] == [eval_id]
    # Quoted as an API run is: 6 items, each up to 256 tokens at 2.00 a million, plus prompts.
    quote = float(queued.stderr.split("quote: up to ")[1].split()[0])
    assert 6 * 256 * 2.0 / 1e6 < quote < 0.01


def test_a_run_of_a_model_the_server_does_not_serve_is_refused_when_asked(
    tmp_path: Path,
) -> None:
    eval_id = corral(tmp_path, "eval", "create", "--suite", "arithmetic").stdout.strip()
    refused = corral(tmp_path, "eval", "run", eval_id, "--suite", "arithmetic", "--model", "nope")
    # `corral`'s main prints the error as one line (`error: The model 'nope' ...`).
    assert refused.exit_code != 0 and "'nope' does not exist" in str(refused.exception)
    assert "evalrun_" not in refused.stdout


def test_an_operator_marks_a_tenants_dataset_private_and_back(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(row) + "\n" for row in ITEMS))
    assert corral(tmp_path, "tenants", "create", "acme").exit_code == 0
    uploaded = corral(
        tmp_path, "files", "upload", str(items), "--tenant", "acme", "--purpose", "evals"
    )
    file_id = uploaded.stdout.split()[1]

    marked = corral(tmp_path, "eval", "private", file_id, "--tenant", "acme")
    unmarked = corral(tmp_path, "eval", "private", file_id, "--tenant", "acme", "--off")
    elsewhere = corral(tmp_path, "eval", "private", file_id)  # not the operator's file

    assert marked.exit_code == 0 and marked.stdout.strip().endswith(": private")
    assert unmarked.stdout.strip().endswith(": not private")
    assert elsewhere.exit_code != 0 and file_id in str(elsewhere.exception)


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
    run = corral(
        tmp_path, "eval", "run", eval_id, "--suite", "mc-reading-de", "--model", "gpt-mini"
    )
    shown = json.loads(corral(tmp_path, "eval", "show", run.stdout.strip()).stdout)
    missing = corral(tmp_path, "eval", "run", eval_id, "--suite", "mc-reading-de")

    assert names == ["mc-reading-en", "mc-reading-de", "arithmetic", "json-schema", "privacy-probe"]
    assert eval_id.startswith("eval_") and shown["progress"]["total"] == 42
    assert missing.exit_code != 0
