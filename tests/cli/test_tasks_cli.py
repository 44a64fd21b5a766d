"""`corral summarize | explain | tips` on files: in process, against a server, and bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import ADMIN_KEY, MODEL, RunningServer, corral_env

FIXTURES = Path(__file__).resolve().parent.parent / "tasks" / "fixtures"


def corral(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        env=corral_env(home, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_tips_in_process_prints_the_api_object(tmp_path: Path) -> None:
    result = corral(tmp_path, "tips", str(FIXTURES / "creator_posts.csv"), "--json")

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {fact["id"] for fact in answer["facts"]} >= {"format_video", "trend"}
    assert answer["meta"]["model"] == MODEL


def test_explain_against_a_running_server(tmp_path: Path, server: RunningServer) -> None:
    chat = tmp_path / "chat.txt"
    lines = (FIXTURES / "whatsapp_ios_de.txt").read_text().splitlines()[:30]
    chat.write_text("\n".join(lines) + "\n")

    result = corral(
        tmp_path, "explain", str(chat), "--json", "--base-url", server.base_url,
        "--api-key", ADMIN_KEY,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["participants"] and answer["meta"]["language"] == "de"


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    garbage, binary, big = tmp_path / "posts.json", tmp_path / "chat.txt", tmp_path / "big.txt"
    garbage.write_text("{not json")
    binary.write_bytes(b"\x00\x01\x02 not text")
    with big.open("wb") as f:
        f.truncate(11 * 1024 * 1024)  # over server.max_body_bytes (10 MB)

    outcomes = [
        corral(tmp_path, "summarize", str(garbage)),
        corral(tmp_path, "explain", str(binary)),
        corral(tmp_path, "explain", str(big)),
        corral(tmp_path, "tips", str(tmp_path / "missing.csv")),
    ]

    for result, says in zip(
        outcomes, ["not valid JSON", "binary", "limit", "no such file"], strict=True
    ):
        assert result.returncode == 1
        assert result.stderr.startswith("error: ") and says in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
