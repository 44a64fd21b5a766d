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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import ADMIN_KEY, start_server  # noqa: E402

from corral.backends.llama_cpp.engine import log_softmax  # noqa: E402
from corral.backends.llama_cpp.loader import KV_CACHE_TYPES  # noqa: E402
from corral.settings import EMBEDDED_MODEL_NAME, load_settings  # noqa: E402

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
        package = packages[0].split("[")[0]
    shown = subprocess.run(
        [python, "-m", "pip", "show", package], capture_output=True, text=True, check=False
    ).stdout
    version = next(
        (line.split()[-1] for line in shown.splitlines() if line.startswith("Version")), "?"
    )
    return python, f"{package} {version}"


def run_client(python: str, script: str, base_url: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "CORRAL_BASE_URL": f"{base_url}/v1",
        "CORRAL_API_KEY": ADMIN_KEY,
        "CORRAL_MODEL": EMBEDDED_MODEL_NAME,
        "PYTHONPATH": str(CELLS),
    }
    name, *arguments = script.split()
    done = subprocess.run(
        [python, str(CELLS / name), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"(client)": f"FAIL: exited {done.returncode}: {done.stderr.strip()[-300:]}"}
    results: dict[str, Any] = json.loads(lines[-1])
    return results


MC40 = ROOT / "corpus" / "multiple_choice" / "mc40.jsonl"
LM_EVAL = ["lm-eval[api]", "transformers", "gguf", "torch==2.13.0"]


def lm_eval_row(venvs: Path, install: bool, base_url: str) -> tuple[str, str, dict[str, str]]:
    """lm-eval's accuracy on mc40 through corral, and whether every item's pick is the one
    llama.cpp makes scoring the same tokens itself."""
    python, version = python_for("lmeval", LM_EVAL, venvs, install)
    gguf = load_settings().embedded_model_path
    answer = run_client(python, f"lm_eval_mc40.py {gguf} {MC40}", base_url)
    if "picks" not in answer:
        return "lm-eval", version, {"local-completions loglikelihood (mc40)": str(answer)}
    ours = list(answer["picks"])
    theirs = direct_picks()
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    verdict = "pass" if same == len(theirs) else "FAIL"
    detail = f"{verdict} (acc {answer['acc']:.3f}; same pick as llama.cpp on {same}/{len(theirs)})"
    return "lm-eval", version, {"local-completions loglikelihood (mc40)": detail}


def direct_picks() -> list[int]:
    """What lm-eval picks, computed by llama-cpp-python with the server's settings."""
    import llama_cpp

    q8 = KV_CACHE_TYPES["q8_0"]
    llama = llama_cpp.Llama(
        str(load_settings().embedded_model_path),
        n_ctx=2048,
        logits_all=True,
        flash_attn=True,
        type_k=q8,
        type_v=q8,
        verbose=False,
    )
    picks = []
    for line in MC40.read_text().splitlines():
        item = json.loads(line)
        context = llama.tokenize(f"Question: {item['question']}\nAnswer:".encode(), add_bos=True)
        totals = []
        for choice in item["choices"]:
            tokens = llama.tokenize(f" {choice}".encode(), add_bos=False)
            llama.n_tokens = 0
            llama.eval(context + tokens)
            rows = [llama.scores[len(context) + i - 1] for i in range(len(tokens))]
            totals.append(sum(float(log_softmax(r)[t]) for r, t in zip(rows, tokens, strict=True)))
        picks.append(max(range(len(totals)), key=totals.__getitem__))
    llama.close()
    return picks


def table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    lines = ["| client | version | feature | result |", "|---|---|---|---|"]
    for client, version, results in rows:
        for feature, result in results.items():
            lines.append(f"| {client} | {version} | {feature} | {str(result).replace('|', '/')} |")
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
            rows.append(lm_eval_row(args.venvs, not args.skip_install, server.base_url))
            print(*rows[-1], flush=True)
        finally:
            server.stop()
    report = ROOT / "bench" / "results" / "clients.md"
    report.write_text(table(rows) + "\n")
    print(f"table written to {report.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
