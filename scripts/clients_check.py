"""Conformance: the clients people point at an OpenAI-compatible server, run against corral.

Each client gets its own venv under `.clients/` (git-ignored; instructor and llama-index pin
other openai releases than the project), with the latest release from PyPI. One `corral serve`
on the embedded model answers them all over loopback; each client's cells
(`scripts/clients/*_cells.py`, and `openai_sdk.py` in the project's own venv) print one JSON
line of results, and the table is written to `docs/compatibility.md`.

    .venv/bin/python scripts/clients_check.py [--venvs DIR] [--skip-install]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import ADMIN_KEY, start_server  # noqa: E402

from corral.settings import EMBEDDED_MODEL_NAME  # noqa: E402

CELLS = ROOT / "scripts" / "clients"
CLIENTS: dict[str, tuple[list[str], str]] = {
    "openai": ([], "openai_sdk.py"),
    "instructor": (["instructor"], "instructor_cells.py"),
    "langchain": (["langchain-openai"], "langchain_cells.py"),
    "litellm": (["litellm"], "litellm_cells.py"),
    "llamaindex": (["llama-index-llms-openai-like"], "llamaindex_cells.py"),
}
"""Client (and its venv's folder name): packages to install, its cells."""


def python_for(name: str, packages: list[str], venvs: Path, install: bool) -> tuple[str, str]:
    """The interpreter a client runs in, and the version of its package."""
    if not packages:
        python = sys.executable
        package = "openai"
    else:
        venv = venvs / name
        python = str(venv / "bin" / "python")
        if install:
            if not Path(python).exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([python, "-m", "pip", "install", "-q", "-U", *packages], check=True)
        package = packages[0]
    shown = subprocess.run(
        [python, "-m", "pip", "show", package], capture_output=True, text=True, check=False
    ).stdout
    version = next(
        (line.split()[-1] for line in shown.splitlines() if line.startswith("Version")), "?"
    )
    return python, f"{package} {version}"


def run_client(python: str, script: str, base_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CORRAL_BASE_URL": f"{base_url}/v1",
        "CORRAL_API_KEY": ADMIN_KEY,
        "CORRAL_MODEL": EMBEDDED_MODEL_NAME,
        "PYTHONPATH": str(CELLS),
    }
    done = subprocess.run(
        [python, str(CELLS / script)], env=env, capture_output=True, text=True, timeout=900
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"(client)": f"FAIL: exited {done.returncode}: {done.stderr.strip()[-300:]}"}
    results: dict[str, str] = json.loads(lines[-1])
    return results


def table(rows: list[tuple[str, str, dict[str, str]]]) -> str:
    lines = ["| client | version | feature | result |", "|---|---|---|---|"]
    for client, version, results in rows:
        for feature, result in results.items():
            lines.append(f"| {client} | {version} | {feature} | {result.replace('|', '/')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venvs", type=Path, default=ROOT / ".clients")
    parser.add_argument("--skip-install", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home))
        try:
            for name, (packages, script) in CLIENTS.items():
                python, version = python_for(name, packages, args.venvs, not args.skip_install)
                results = run_client(python, script, server.base_url)
                print(name, version, json.dumps(results), flush=True)
                rows.append((name, version, results))
        finally:
            server.stop()
    report = ROOT / "bench" / "results" / "clients.md"
    report.write_text(table(rows) + "\n")
    print(f"table written to {report.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
