"""The results of bench/local_inference.py: medians per server, corral/reference ratios against
corral's targets, the machine it ran on; as JSON and as the printed table and notes.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from local_measure import CONCURRENT_STREAMS
from local_rounds import NOISY_SHARE, Collected
from local_setup import Options, corral_config


@dataclass(frozen=True)
class Metric:
    """One row of the table: which figure, which direction is better, and corral's target."""

    key: str
    label: str
    higher_is_better: bool
    target: str = ""
    passes: Callable[[float, float], bool] | None = None
    compare: bool = True


METRICS = [
    Metric("decode_tps", "single stream: decode tok/s", True, "≥ 0.95x ref",
           lambda c, r: c >= 0.95 * r),
    Metric("end_to_end_tps", "single stream: end-to-end tok/s", True, "≥ 0.95x ref",
           lambda c, r: c >= 0.95 * r),
    Metric("aggregate_tps", f"{CONCURRENT_STREAMS} concurrent streams: aggregate tok/s", True,
           "≥ 0.95x ref", lambda c, r: c >= 0.95 * r),
    Metric("ttft_ms", "time to first token, short prompt (ms)", False, "≤ 1.1x ref",
           lambda c, r: c <= 1.1 * r),
    Metric("prompt_tps", "prompt processing, ~4k-token prompt: tok/s", True),
    Metric("ready_s", "ready after (s)", False, "< 5 s", lambda c, r: c < 5.0),
    Metric("idle_rss_mb", "idle RSS after loading (MB)", False, "< 400 MB",
           lambda c, r: c < 400.0),
    Metric("rss_after_round_mb", "RSS after a round (MB)", False),
    Metric("foreign_cpu_pct", "CPU taken by other processes (%)", False, compare=False),
]  # fmt: skip


def verdicts(corral: dict[str, float], reference: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for metric in METRICS:
        ours, theirs = corral[metric.key], reference[metric.key]
        verdict = None
        if metric.passes is not None:
            verdict = "PASS" if metric.passes(ours, theirs) else "FAIL"
        rows.append(
            {
                "metric": metric.key,
                "label": metric.label,
                "corral": ours,
                "llama_cpp_server": theirs,
                "ratio_corral_over_reference": ours / theirs if theirs and metric.compare else None,
                "better": "higher" if metric.higher_is_better else "lower",
                "target": metric.target or None,
                "verdict": verdict,
            }
        )
    return rows


def machine_note(threads: int) -> dict[str, Any]:
    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0))
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": cpu_model,
        "server_threads": threads,
        "note": f"{os.cpu_count()} CPU(s), {usable} usable; the client (this process, the openai "
        f"SDK) and the server under test share them, the server using {threads} inference "
        "thread(s). The two servers took turns, never running at the same time.",
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="corral vs llama_cpp.server (same GGUF, same threads; medians)")
    for column in ("metric", "corral", "llama_cpp.server", "ratio corral/ref", "target", "result"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in rows:
        ratio = row["ratio_corral_over_reference"]
        better = "higher" if row["better"] == "higher" else "lower"
        table.add_row(
            row["label"],
            f"{row['corral']:.2f}",
            f"{row['llama_cpp_server']:.2f}",
            f"{ratio:.3f} ({better} is better)" if ratio is not None else "-",
            row["target"] or "-",
            row["verdict"] or "info",
        )
    Console(width=150).print(table)


def print_notes(results: dict[str, Any]) -> None:
    for name in ("corral", "llama_cpp.server"):
        check = results[name]["token_count_check"]
        print(
            f"{name}: tokens counted from {check['counted_from']}; check: stream "
            f"{check['stream_tokens_counted']}, content chunks {check['stream_content_chunks']}, "
            f"usage chunk {check['stream_usage_completion_tokens']}, non-streamed usage "
            f"{check['non_streamed_usage_completion_tokens']}, max_tokens {check['max_tokens']}: "
            + ("OK" if check["ok"] else "MISMATCH")
        )
    corral = results["corral"]["medians"]
    story_tokens = results["corral"]["token_count_check"]["prompt_tokens"]
    print(f"same generated text from both servers: {results['same_text']}")
    print(
        f"prompt sizes (corral's usage): story {story_tokens}, short prompt "
        f"{corral.get('short_prompt_tokens', float('nan')):.0f}, long prompt "
        f"{corral['prompt_tokens']:.0f} tokens"
    )
    options = results["options"]["model_options"]
    print(f"corral model options: {', '.join(options) if options else 'corral defaults'}")
    if results["corral_source_changed_during_run"]:
        print(
            "WARNING: corral's source changed during the run; its rounds measured different code."
        )
    machine = results["machine"]
    print(f"machine: {machine['cpu_model']}; {machine['note']}")
    for name in ("corral", "llama_cpp.server"):
        share = max(results[name]["samples"]["foreign_cpu_pct"]) / 100
        if share > NOISY_SHARE:
            print(
                f"WARNING: other processes took up to {share:.0%} of the CPUs while {name} was "
                "measured; its figures are noisy. Rerun on a quiet machine."
            )


def summarise(
    collected: dict[str, Collected], digests: list[str], opts: Options, path: Path
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "model_path": str(path),
        "options": {k: v for k, v in asdict(opts).items() if k != "prompts"},
        "machine": machine_note(opts.threads),
        "corral_config": corral_config(path, opts),
        "corral_source_digests": digests,
        "corral_source_changed_during_run": len(set(digests)) > 1,
    }
    for name, out in collected.items():
        results[name] = {
            "medians": out.medians(),
            "samples": out.samples(),
            "token_count_check": out.token_check(),
            "rounds": [r.info | {"foreign_cpu_share": r.foreign} for r in out.rounds],
            "command": out.server.spec.command,
        }
    texts = [collected[n].token_check()["text"] for n in ("corral", "llama_cpp.server")]
    results["same_text"] = texts[0] == texts[1]
    results["rows"] = verdicts(results["corral"]["medians"], results["llama_cpp.server"]["medians"])
    return results
