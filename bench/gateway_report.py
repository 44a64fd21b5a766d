"""Tables, targets and the plot of bench/gateway.py (pure functions over its measured cells).

The plot is drawn by the LiteLLM venv's Python (which has matplotlib, corral's venv does not):
`PLOT_SCRIPT` is run there with `-c`, reading the results JSON on stdin.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

Cell = dict[str, Any]
CORRALS = ("corral-sqlite", "corral-partner", "corral-pg", "corral-pg-2w")
SINGLE_WORKER = ("corral-sqlite", "corral-partner", "corral-pg")
RPS_RATIO_GOAL, ADDED_P50_GOAL_MS, ADDED_P99_GOAL_MS = 20.0, 1.0, 3.0
RSS_GOAL_MB, SCALING_GOAL = 120.0, 1.6


def mode(stream: bool) -> str:
    return "stream" if stream else "plain"


def cell_line(cell: Cell) -> str:
    cores = " ".join(f"{k}={v:.2f}" for k, v in cell["cpu_cores"].items())
    return (
        f"  {mode(cell['stream']):6} c={cell['concurrency']:<3} {cell['rps']:>9.1f} req/s  "
        f"p50 {_fmt(cell['p50_ms'], 3):>8} ms  p99 {_fmt(cell['p99_ms'], 3):>8} ms  "
        f"errors {cell['errors']}  cores: {cores}"
    )


def profile_lines(top: list[tuple[str, float, float]]) -> str:
    lines = ["      on stack  running  function"]
    lines += [f"      {on * 100:7.1f}% {mine * 100:7.1f}%  {frame}" for frame, on, mine in top]
    return "\n".join(lines)


def _find(cells: list[Cell], target: str, stream: bool, concurrency: int) -> Cell | None:
    for cell in cells:
        if (cell["target"], cell["stream"], cell["concurrency"]) == (target, stream, concurrency):
            return cell
    return None


def add_added_latency(cells: list[Cell]) -> None:
    """Each gateway cell's latency over the fake alone at the same mode and concurrency."""
    for cell in cells:
        base = _find(cells, "fake", cell["stream"], cell["concurrency"])
        if cell["target"] == "fake" or base is None:
            continue
        for stat in ("p50", "p99"):
            mine, theirs = cell[f"{stat}_ms"], base[f"{stat}_ms"]
            added = None if mine is None or theirs is None else round(mine - theirs, 3)
            cell[f"added_{stat}_ms"] = added


def _ratio(a: Cell | None, b: Cell | None) -> float | None:
    if a is None or b is None or not b["rps"]:
        return None
    return round(float(a["rps"]) / float(b["rps"]), 2)


def _check(name: str, value: float | None, goal: str, met: bool | None) -> dict[str, Any]:
    return {"target": name, "measured": value, "goal": goal, "met": met}


def targets(cells: list[Cell], memory: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and whether it is met."""
    checks = []
    present = {cell["target"] for cell in cells}
    for target in (t for t in CORRALS if t in present):
        for stream in (False, True):
            for c in (16, 64):
                ours = _find(cells, target, stream, c)
                ratio = _ratio(ours, _find(cells, "litellm", stream, c))
                met = None
                if ours is not None and ratio is not None:
                    met = ratio >= RPS_RATIO_GOAL and ours["errors"] == 0
                name = f"{target} / litellm req/s, {mode(stream)}, c={c} (errors {_errors(ours)})"
                checks.append(_check(name, ratio, f">= {RPS_RATIO_GOAL:g}x, 0 errors", met))
    for target in (t for t in SINGLE_WORKER if t in present):
        for stream in (False, True):
            one = _find(cells, target, stream, 1)
            if one is None:
                continue
            for stat, goal in (("p50", ADDED_P50_GOAL_MS), ("p99", ADDED_P99_GOAL_MS)):
                added = one.get(f"added_{stat}_ms")
                name = f"{target} added {stat} latency, {mode(stream)}, c=1 (ms)"
                met = None if added is None else added <= goal
                checks.append(_check(name, added, f"<= {goal:g} ms", met))
        rss = memory[target]["largest_process_mb"]
        name = f"{target} RSS of the worker after the run (MB)"
        checks.append(_check(name, rss, f"<= {RSS_GOAL_MB:g} MB", rss <= RSS_GOAL_MB))
    if {"corral-sqlite", "corral-partner"} <= present:  # what the guard and its audit cost
        for stream in (False, True):
            for c in (1, 16):
                ratio = _ratio(
                    _find(cells, "corral-partner", stream, c),
                    _find(cells, "corral-sqlite", stream, c),
                )
                name = f"partner (guard on) / premium req/s, {mode(stream)}, c={c}"
                checks.append(_check(name, ratio, "reported", None))
    if {"corral-sqlite", "corral-baseline"} <= present:  # this checkout against another
        for stream in (False, True):
            for c in (1, 16):
                ratio = _ratio(
                    _find(cells, "corral-sqlite", stream, c),
                    _find(cells, "corral-baseline", stream, c),
                )
                name = f"corral-sqlite / baseline checkout req/s, {mode(stream)}, c={c}"
                checks.append(_check(name, ratio, "reported", None))
    if {"corral-pg", "corral-pg-2w"} <= present:
        for stream in (False, True):
            for c in (16, 64):
                ratio = _ratio(
                    _find(cells, "corral-pg-2w", stream, c), _find(cells, "corral-pg", stream, c)
                )
                name = f"--workers 2 / one worker (PostgreSQL+Redis), {mode(stream)}, c={c}"
                met = None if ratio is None else ratio >= SCALING_GOAL
                checks.append(_check(name, ratio, f">= {SCALING_GOAL:g}x", met))
    return checks


def _errors(cell: Cell | None) -> str:
    return "?" if cell is None else str(cell["errors"])


def assemble(
    machine: dict[str, Any], measured: dict[str, Any], labels: dict[str, str]
) -> dict[str, Any]:
    cells: list[Cell] = measured["cells"]
    add_added_latency(cells)
    return {
        "benchmark": "gateway",
        "machine": machine,
        "litellm_version": measured.get("litellm_version"),
        "labels": {k: v for k, v in labels.items() if k in {c["target"] for c in cells}},
        "cells": cells,
        "memory_after_mb": measured["memory_after_mb"],
        "targets": targets(cells, measured["memory_after_mb"]),
    }


# -- Markdown ------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    machine, labels = results["machine"], results["labels"]
    lines = [
        "# Gateway benchmark: corral and the LiteLLM proxy in front of an instant fake upstream",
        "",
        machine["note"],
        f"wrk, {machine['seconds_per_cell']:g} s per cell after a {machine['warmup_s']:g} s "
        "warm-up per server and mode; all servers run at once and each cell (mode, "
        "concurrency) is measured against each server in turn; "
        f"LiteLLM {results['litellm_version']}; "
        f"{machine['platform']}, Python {machine['python']}. Added latency: the cell's latency "
        "minus the fake's own at the same mode and concurrency. Cores: CPU time / wall time "
        "of the gateway (gw), the fake, wrk, and everything else on the machine (other).",
        "",
        "| gateway | mode | c | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | errors "
        "| cores gw / fake / wrk / other |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    order = list(labels)
    by_target = sorted(
        results["cells"], key=lambda c: (order.index(c["target"]), c["stream"], c["concurrency"])
    )
    for cell in by_target:
        cores = " / ".join(f"{v:.2f}" for v in cell["cpu_cores"].values())
        lines.append(
            f"| {labels[cell['target']]} | {mode(cell['stream'])} | {cell['concurrency']} "
            f"| {cell['rps']:.1f} | {_fmt(cell['p50_ms'], 3)} | {_fmt(cell['p99_ms'], 3)} "
            f"| {_fmt(cell.get('added_p50_ms'), 3)} | {_fmt(cell.get('added_p99_ms'), 3)} "
            f"| {cell['errors']} | {cores} |"
        )
    lines += ["", "| process tree after its run | RSS MB | largest process MB |", "|---|---:|---:|"]
    for target, mem in results["memory_after_mb"].items():
        lines.append(
            f"| {labels[target]} | {mem['rss_mb']:.1f} | {mem['largest_process_mb']:.1f} |"
        )
    lines += ["", "| target (issue 6) | measured | goal | met |", "|---|---:|---|---|"]
    for check in results["targets"]:
        met = {True: "yes", False: "**no**", None: "-"}[check["met"]]
        lines.append(f"| {check['target']} | {_fmt(check['measured'])} | {check['goal']} | {met} |")
    return "\n".join(lines) + "\n"


# -- the plot ------------------------------------------------------------------------------------

PLOT_SCRIPT = r"""
import json, sys, textwrap
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

results = json.load(sys.stdin)
cells, labels = results["cells"], results["labels"]
levels = sorted({c["concurrency"] for c in cells})
floor = lambda v: float("nan") if v is None else max(v, 0.01)  # log axes: no zero or below
fig, axes = plt.subplots(2, 2, figsize=(13, 9))
for col, stream in enumerate((False, True)):
    mode = "streamed" if stream else "non-streamed"
    top, bottom = axes[0][col], axes[1][col]
    for target, label in labels.items():
        mine = {c["concurrency"]: c for c in cells
                if c["target"] == target and c["stream"] == stream}
        xs = [c for c in levels if c in mine]
        top.plot(xs, [floor(mine[c]["rps"]) for c in xs], marker="o", label=label)
        if target != "fake":
            bottom.plot(xs, [floor(mine[c]["added_p50_ms"]) for c in xs], marker="o",
                        label=label + " p50")
            bottom.plot(xs, [floor(mine[c]["added_p99_ms"]) for c in xs], marker="x",
                        linestyle="--", label=label + " p99")
    top.set(title=f"throughput, {mode}", xlabel="concurrency", ylabel="requests/s",
            xscale="log", yscale="log", xticks=levels, xticklabels=[str(x) for x in levels])
    bottom.set(title=f"latency added over the fake, {mode}", xlabel="concurrency",
               ylabel="ms (log)", xscale="log", yscale="log", xticks=levels,
               xticklabels=[str(x) for x in levels])
    top.grid(True, which="both", alpha=0.3)
    bottom.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=7)
    bottom.legend(fontsize=6, ncol=2)
fig.suptitle(textwrap.fill(results["machine"]["note"], 150), fontsize=8)
fig.tight_layout(rect=(0, 0, 1, 0.95))
fig.savefig(sys.argv[1], dpi=110)
"""


def plot(results: dict[str, Any], png: Path, python: Path) -> None:
    """Draw gateway.png with `python` (a venv that has matplotlib)."""
    subprocess.run(
        [str(python), "-c", PLOT_SCRIPT, str(png)],
        input=json.dumps(results),
        text=True,
        check=True,
    )
