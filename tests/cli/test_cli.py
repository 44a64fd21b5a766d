"""The `corral` command line, run as a user would run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from corral.cli import COMMANDS
from tests.support import ADMIN_KEY, MODEL, RunningServer, corral_env


def corral(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        env=corral_env(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version(tmp_path: Path) -> None:
    result = corral(tmp_path, "version")

    assert result.returncode == 0
    assert result.stdout.startswith("corral ")


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = corral(
        tmp_path,
        "config",
        "show",
        CORRAL_DATABASE_URL="postgresql+psycopg://app:hunter2@db/corral",
    )

    assert result.returncode == 0
    shown = json.loads(result.stdout)
    assert shown["home"] == str(tmp_path)
    assert ADMIN_KEY not in result.stdout
    assert "hunter2" not in result.stdout


def test_config_show_masks_a_password_written_into_a_models_url(tmp_path: Path) -> None:
    config = tmp_path / "corral.toml"
    config.write_text(
        '[[models]]\nname = "vllm"\nbackend = "openai-compatible"\nupstream_model = "m"\n'
        'base_url = "https://corral:hunter2@inference.internal/v1"\n'
    )

    result = corral(tmp_path, "config", "show", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["models"][0]["base_url"] == "https://***@inference.internal/v1"
    assert "hunter2" not in result.stdout


def test_models_add_list_remove(tmp_path: Path, model_path: Path) -> None:
    added = corral(tmp_path, "models", "add", str(model_path), "--name", "my-model")
    listed = corral(tmp_path, "models", "list", "--json")
    removed = corral(tmp_path, "models", "remove", "my-model")
    after = corral(tmp_path, "models", "list", "--json")

    assert added.returncode == 0, added.stderr
    assert "context 8192" in added.stdout and "chat template yes" in added.stdout
    models = {m["name"]: m for m in json.loads(listed.stdout)}
    assert models["my-model"]["licence"] == "apache-2.0"  # read from the GGUF metadata
    assert models["my-model"]["tier"] == "open"
    assert MODEL in models
    assert removed.returncode == 0
    assert "my-model" not in {m["name"] for m in json.loads(after.stdout)}


def test_added_model_is_served(tmp_path: Path, model_path: Path) -> None:
    from tests.support import start_server

    corral(tmp_path, "models", "add", str(model_path), "--name", "second", "--tier", "premium")
    server = start_server(tmp_path)
    try:
        import openai

        with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY) as client:
            card = client.models.retrieve("second")
            answer = client.chat.completions.create(
                model="second", messages=[{"role": "user", "content": "hi"}], max_tokens=2
            )
    finally:
        server.stop()

    assert card.model_extra is not None and card.model_extra["tier"] == "premium"
    assert answer.usage is not None and answer.usage.completion_tokens == 2


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    missing = corral(tmp_path, "models", "add", "/no/such.gguf", "--name", "x")
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("not a model")
    garbage = corral(tmp_path, "models", "add", str(not_gguf), "--name", "x")
    bad_tier = corral(tmp_path, "models", "add", str(not_gguf), "--name", "x", "--tier", "gold")

    for result in (missing, garbage, bad_tier):
        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no such file" in missing.stderr


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nport = 'eighty'\n")

    result = corral(tmp_path, "serve", "--config", str(config))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert "server.port" in result.stderr


def test_chat_in_process(tmp_path: Path) -> None:
    result = corral(tmp_path, "chat", "Say hello.", "--max-tokens", "5", "--temperature", "0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_chat_against_a_server(tmp_path: Path, server: RunningServer) -> None:
    result = corral(
        tmp_path,
        "chat",
        "Say hello.",
        "--max-tokens",
        "5",
        "--base-url",
        f"{server.base_url}/v1",
        "--api-key",
        ADMIN_KEY,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_chat_interactive_keeps_the_conversation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "corral", "chat", "--max-tokens", "3"],
        env=corral_env(tmp_path),
        input="Hi\nAnd again\n",
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if line.strip()]) == 2


def test_every_command_is_listed_with_its_help(tmp_path: Path) -> None:
    result = corral(tmp_path, "--help")

    assert result.returncode == 0
    for name in COMMANDS:
        assert re.search(rf"│ {name} +\S", result.stdout), name


def test_serving_loads_none_of_the_other_commands() -> None:
    # A server process should carry only what serving needs: each CLI-only import (rich's
    # tables and progress bars, httpx) is memory in every worker.
    probe = (
        "import sys, typer; from corral.cli import cli; "
        "typer.main.get_command(cli(['serve', '--port', '9'])); "
        "print(sorted(m for m in ('rich', 'httpx', 'corral.cli.tasks', 'corral.cli.models') "
        "if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"
