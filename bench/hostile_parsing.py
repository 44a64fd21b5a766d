"""Benchmark: hostile inputs to the privacy detector and the task readers, before and after
issue 28's linear-time patterns and input limits.

Each case runs in a process of its own, once on the code of a reference commit (`--before`,
by default the last commit before the fix; its `src` is unpacked with `git archive`) and once
on this checkout, and prints the time and the peak memory (traced Python allocations) of each,
and their ratio. A case still running after `--timeout` seconds is reported as "> timeout".
Where the new code refuses an input by a limit, "after" is the time to refuse it.

Run: `PYTHONPATH=src .venv/bin/python bench/hostile_parsing.py [--before REF] [--timeout S]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "ac5a413"
"""The last commit before the fix (issue 28, item 3)."""
CHAT = ROOT / "tests" / "tasks" / "fixtures" / "whatsapp_android_en.txt"

# Each case: (what it calls, the expression building its input). Both run in the child.
CASES: dict[str, tuple[str, str]] = {
    "privacy: 'Ab-' * 16000 (48 KB)": ("detect", "'Ab-' * 16000"),
    "privacy: 'Ab-', 1 MB": ("detect", "'Ab-' * 333_333"),
    "privacy: 'a%' * 50000 + '@' (100 KB)": ("detect", "'a%' * 50_000 + '@'"),
    "privacy: 'x@y.de ' * 15000 (105 KB)": ("detect", "'x@y.de ' * 15_000"),
    "privacy: realistic mix, 1 MB": (
        "detect",
        "('Jane Doe jane@x.de +49 30 1234567 Lindenstraße 5, 10115 Berlin. ') * 15_000",
    ),
    "chat: 62 KB export (the fixture)": ("chat", "CHAT_TEXT[:62_000]"),
    "chat: one line of 20,000 ': ' (60 KB)": ("chat", "'31.12.24, 21:05 - ' + 'a: ' * 20_000"),
    "chat: a message of 10,000 ' hat ' (60 KB)": (
        "chat",
        "'31.12.24, 21:05 - Anna: ' + 'x hat ' * 10_000 + '!'",
    ),
    "csv: header of 26,000 columns (262 KB)": (
        "csv",
        "','.join(f'column{i}' for i in range(26_000)) + '\\n' + '1,' * 25_999 + '1\\n'",
    ),
    "json: views of 5,000 digits": (
        "json",
        '\'[{"id": "p1", "time": "2024-01-02T17:25:00Z", "format": "text", \''
        ' \'"likes": 1, "comments": 1, "shares": 1, "views": \' + \'9\' * 5000 + \'}]\'',
    ),
}

CHILD = """
import json, sys, time, tracemalloc
from pathlib import Path
CHAT_TEXT = Path(sys.argv[3]).read_text("utf-8")
kind, expression = sys.argv[1], sys.argv[2]
data = eval(expression)
if kind == "detect":
    from corral.privacy.detect import Detector
    detector = Detector()
    run = lambda: detector.detect(data)
elif kind == "chat":
    from corral.tasks.chat_export import parse_chat
    run = lambda: parse_chat(data)
else:
    from corral.tasks.creator import read_creator_posts
    run = lambda: read_creator_posts(data.encode(), kind)
tracemalloc.start()
started = time.perf_counter()
try:
    run()
    outcome = "read"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
took = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"s": took, "mb": peak / 1e6, "outcome": outcome}))
"""


@dataclass(frozen=True)
class Run:
    s: float
    mb: float
    outcome: str


def measure(src: Path, kind: str, expression: str, timeout: float) -> Run | None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-c", CHILD, kind, expression, str(CHAT)]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def unpack(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def shown(run: Run | None, timeout: float) -> str:
    if run is None:
        return f"> {timeout:.0f} s".rjust(18)
    return f"{run.s:8.3f} s {run.mb:6.1f} MB"


def ratio(before: Run | None, after: Run | None, timeout: float) -> str:
    if after is None:
        return "-"
    old_s = before.s if before is not None else timeout
    return ("> " if before is None else "") + f"{old_s / max(after.s, 1e-6):.0f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the reference commit")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_src = unpack(args.before, Path(tmp))
        print(f"{'case':44} {'before':>18} {'after':>18} {'time ratio':>10}  after's outcome")
        for name, (kind, expression) in CASES.items():
            before = measure(old_src, kind, expression, args.timeout)
            after = measure(ROOT / "src", kind, expression, args.timeout)
            print(
                f"{name:44} {shown(before, args.timeout)} {shown(after, args.timeout)}"
                f" {ratio(before, after, args.timeout):>10}  {after.outcome if after else '-'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
