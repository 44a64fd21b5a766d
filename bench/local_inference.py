"""Benchmark: corral's local inference against llama-cpp-python's own server, in one run.

Both servers load the same GGUF file (corral's embedded SmolLM2-135M-Instruct, found with
`corral.settings.load_settings().embedded_model_path`) with the same thread count and context
length, and are driven by the same client (the official `openai` SDK, `AsyncOpenAI`) with the same
requests: streamed chat completions, `temperature=0`, a fixed `seed`. The servers run one after
the other, never at the same time; each is warmed up with one request first, and every figure is
the median of `--repeats` repetitions.

What is measured, per server:

* ready time: from process start until `GET /readyz` (corral) or `GET /v1/models`
  (llama_cpp.server) answers 200; and the server's RSS (VmRSS of the process and its
  children, from /proc) when idle just after that, and again after the benchmark.
* single stream: decode tokens/s = (tokens - 1) / (time of last token - time of first token),
  i.e. the rate over the intervals between tokens; and end-to-end tokens/s = tokens / (time
  from sending the request until the stream ended).
* 4 concurrent streams: aggregate tokens/s = sum of tokens / wall time from the first request
  sent until the last stream ended. Both servers run one model instance, so the streams are
  served one at a time; this measures queueing overhead, not parallel speed-up.
* time to first token for a short prompt (request sent until the first non-empty content chunk).
  The prompt differs per repetition by a number.
* prompt processing: a ~4,000-token prompt with `max_tokens=1`, non-streamed; prompt tokens (the
  server's `usage.prompt_tokens`) / total request time. The first line differs per repetition,
  so neither server's prefix cache can skip the prompt.

How tokens are counted: a "token" is one generated (completion) token. Both servers get the
same `max_tokens`, and a prompt that makes the model ramble, so neither stops early at
end-of-sequence; every stream is checked to have produced exactly `max_tokens`.

* corral: `usage.completion_tokens` from the final usage chunk of the stream
  (`stream_options={"include_usage": True}`).
* llama_cpp.server sends no usage chunk in streams, so its tokens are the number of chunks with
  non-empty `delta.content` (it sends one per token).

Both counts are verified once per server: the chunk count (both servers), the usage chunk
(corral) and `usage.completion_tokens` of a non-streamed copy of the same request must all equal
`max_tokens`; the result is printed and stored. The requests also carry `repeat_penalty=1.0`
(llama-cpp-python's extension; corral ignores unknown fields and never applies one), so both run
plain greedy decoding and should produce the same text, which is checked too.

Client and servers share the machine's CPUs; the machine note in the output says how many.

Run it with `make bench`, which runs `.venv/bin/python bench/local_inference.py`; options:
`--threads N` (default 2), `--repeats N` (default 3), `--max-tokens N` (default 256), `--quick`
(one repetition). The table is printed; the results are also written as JSON to
`bench/results/local_inference.json`. llama_cpp.server needs llama-cpp-python's `[server]` extra
(`sse-starlette`, `starlette-context`) in the venv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import llama_cpp
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from rich.console import Console
from rich.table import Table

# corral ships no py.typed marker: the project-wide `mypy` checks this import against src/, while
# `mypy bench/local_inference.py` alone sees an untyped package, hence the ignore for that case.
from corral.settings import (  # type: ignore[import-untyped,unused-ignore]
    EMBEDDED_MODEL_NAME,
    load_settings,
)

HOST = "127.0.0.1"
CONTEXT_LENGTH = 8192
SEED = 1234
CONCURRENT_STREAMS = 4
LONG_PROMPT_TOKENS = 4000
READY_TIMEOUT_S = 120.0
ADMIN_KEY = "sk-corral-bench"
REQUEST_TIMEOUT_S = 300.0
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "local_inference.json"
STORY_PROMPT = (
    "Write a very long story about a lighthouse keeper who finds a map to a hidden island. "
    "Describe every day of the journey in great detail, chapter by chapter."
)
# llama-cpp-python's extension field; corral ignores it (it never applies a repeat penalty).
EXTRA_BODY: dict[str, Any] = {"repeat_penalty": 1.0}

Messages = list[ChatCompletionMessageParam]


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    """A running server under test: its process, where to reach it, and its start-up figures."""

    name: str
    proc: subprocess.Popen[bytes]
    base_url: str
    api_key: str
    model: str
    command: list[str]
    ready_s: float = 0.0
    idle_rss_mb: float = 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without CORRAL_* variables, so the user's own settings do not leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}


def corral_command(
    workdir: Path, model_path: Path, threads: int
) -> tuple[list[str], dict[str, str]]:
    config = workdir / "corral.toml"
    config.write_text(
        "embedded_model = false\n"
        "[[models]]\n"
        f'name = "{EMBEDDED_MODEL_NAME}"\n'
        f"path = {json.dumps(str(model_path))}\n"
        f"threads = {threads}\n"
        f"context_length = {CONTEXT_LENGTH}\n"
    )
    command = [str(Path(sys.prefix) / "bin" / "corral"), "serve", "--host", HOST]
    command += ["--port", str(free_port()), "--config", str(config)]
    env = clean_env() | {"CORRAL_HOME": str(workdir / "home"), "CORRAL_ADMIN_KEY": ADMIN_KEY}
    return command, env


def reference_command(model_path: Path, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--n_ctx", str(CONTEXT_LENGTH), "--interrupt_requests", "False",
        "--model_alias", EMBEDDED_MODEL_NAME, "--host", HOST, "--port", str(free_port()),
    ]  # fmt: skip


def tree_rss_mb(pid: int) -> float:
    """VmRSS of a process and all its descendants, in MB (10^6 bytes)."""
    total_kb, pending = 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total_kb * 1024 / 1e6


def wait_ready(proc: subprocess.Popen[bytes], url: str, started: float) -> float:
    """Poll `url` until it answers 200; return seconds since `started`. Bounded in time."""
    deadline = started + READY_TIMEOUT_S
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with status {proc.returncode} before ready")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer 200 within {READY_TIMEOUT_S:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def running(
    name: str, command: list[str], env: dict[str, str], ready_path: str, log: Path, api_key: str
) -> Iterator[Server]:
    """Start a server, wait until it is ready, measure ready time and idle RSS; always stop it."""
    port = command[command.index("--port") + 1]
    base = f"http://{HOST}:{port}"
    with log.open("wb") as log_file:
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            server = Server(name, proc, base + "/v1", api_key, EMBEDDED_MODEL_NAME, command)
            server.ready_s = wait_ready(proc, base + ready_path, started)
            time.sleep(0.5)  # let the process settle before sampling its idle footprint
            server.idle_rss_mb = tree_rss_mb(proc.pid)
            yield server
        except BaseException:
            sys.stderr.write(f"--- {name} log ({log}) ---\n{log.read_text(errors='replace')}\n")
            raise
        finally:
            stop(proc)


# -- requests --------------------------------------------------------------------------------


@dataclass
class StreamSample:
    """One streamed request: times (monotonic s), chunk count and the server's usage (if any)."""

    sent: float
    first: float | None = None
    last: float | None = None
    ended: float = 0.0
    content_chunks: int = 0
    usage_tokens: int | None = None
    text: str = ""

    def tokens(self, source: Literal["usage", "chunks"]) -> int:
        if source == "usage":
            if self.usage_tokens is None:
                raise RuntimeError("the stream sent no usage chunk")
            return self.usage_tokens
        return self.content_chunks


@dataclass
class Bench:
    """One server under test: a client for it and the knobs every request shares."""

    server: Server
    client: AsyncOpenAI
    max_tokens: int
    token_source: Literal["usage", "chunks"]

    async def stream(self, messages: Messages, max_tokens: int) -> StreamSample:
        sample = StreamSample(sent=time.monotonic())
        stream = await self.client.chat.completions.create(
            model=self.server.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
            seed=SEED,
            stream=True,
            stream_options={"include_usage": True},
            extra_body=EXTRA_BODY,
        )
        pieces: list[str] = []
        async for chunk in stream:
            now = time.monotonic()
            if chunk.usage is not None:
                sample.usage_tokens = chunk.usage.completion_tokens
            content = chunk.choices[0].delta.content if chunk.choices else None
            if content:
                sample.first = sample.first or now
                sample.last = now
                sample.content_chunks += 1
                pieces.append(content)
        sample.ended = time.monotonic()
        sample.text = "".join(pieces)
        return sample

    async def complete(self, messages: Messages, max_tokens: int) -> tuple[float, int, int, str]:
        """A non-streamed request: (seconds, prompt tokens, completion tokens, text)."""
        sent = time.monotonic()
        response = await self.client.chat.completions.create(
            model=self.server.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
            seed=SEED,
            extra_body=EXTRA_BODY,
        )
        elapsed = time.monotonic() - sent
        usage = response.usage
        if usage is None:
            raise RuntimeError(f"{self.server.name} sent no usage")
        text = response.choices[0].message.content or ""
        return elapsed, usage.prompt_tokens, usage.completion_tokens, text


def story(variant: int = 0) -> Messages:
    suffix = f" (Story number {variant}.)" if variant else ""
    return [{"role": "user", "content": STORY_PROMPT + suffix}]


def long_prompt_text(target_tokens: int, variant: int) -> str:
    """A prompt of about `target_tokens` tokens of varied sentences; its first line is unique."""
    vocab = llama_cpp.Llama(str(model_path()), vocab_only=True, verbose=False)
    rng = random.Random(variant)
    subjects = ["The keeper", "A sailor", "The old map", "The island", "A storm", "The crew"]
    verbs = ["watched", "described", "remembered", "crossed", "ignored", "painted"]
    objects = ["the grey sea", "a broken compass", "seven lanterns", "the northern cliffs"]
    lines = [f"Request {variant}: summarise the following notes in one sentence."]
    text = lines[0]
    while len(vocab.tokenize(text.encode(), add_bos=False)) < target_tokens:
        for _ in range(20):
            words = (rng.choice(subjects), rng.choice(verbs), rng.choice(objects))
            lines.append(f"{' '.join(words)} on day {rng.randint(1, 999)}.")
        text = "\n".join(lines)
    vocab.close()
    return text


def model_path() -> Path:
    return Path(load_settings().embedded_model_path)


# -- measurements ----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def check_counts(bench: Bench) -> dict[str, Any]:
    """Verify the token counts against a non-streamed copy of the benchmark request."""
    sample = await bench.stream(story(), bench.max_tokens)
    _, prompt_tokens, completion_tokens, text = await bench.complete(story(), bench.max_tokens)
    counted = sample.tokens(bench.token_source)
    return {
        "max_tokens": bench.max_tokens,
        "counted_from": bench.token_source,
        "stream_tokens_counted": counted,
        "stream_content_chunks": sample.content_chunks,
        "stream_usage_completion_tokens": sample.usage_tokens,
        "non_streamed_usage_completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "ok": counted == completion_tokens == bench.max_tokens,
        "stream_text_equals_non_streamed": sample.text == text,
        "text": sample.text,
    }


def require_full(bench: Bench, samples: list[StreamSample]) -> list[int]:
    counts = [s.tokens(bench.token_source) for s in samples]
    short = [n for n in counts if n != bench.max_tokens]
    if short:
        raise RuntimeError(
            f"{bench.server.name}: a stream produced {short} tokens, not {bench.max_tokens} "
            "(stopped early at end-of-sequence?); the throughput figures would not compare"
        )
    return counts


async def single_stream(bench: Bench, repeats: int) -> dict[str, float]:
    decode, end_to_end = [], []
    for rep in range(repeats):
        sample = await bench.stream(story(), bench.max_tokens)
        (tokens,) = require_full(bench, [sample])
        assert sample.first is not None and sample.last is not None
        decode.append((tokens - 1) / (sample.last - sample.first))
        end_to_end.append(tokens / (sample.ended - sample.sent))
        print(f"  {bench.server.name} single stream {rep + 1}/{repeats}: {decode[-1]:.1f} tok/s")
    return {"decode_tps": median(decode), "end_to_end_tps": median(end_to_end)}


async def concurrent_streams(bench: Bench, repeats: int) -> dict[str, float]:
    aggregate = []
    for rep in range(repeats):
        started = time.monotonic()
        samples = await asyncio.gather(
            *(bench.stream(story(i + 1), bench.max_tokens) for i in range(CONCURRENT_STREAMS))
        )
        wall = max(s.ended for s in samples) - started
        aggregate.append(sum(require_full(bench, list(samples))) / wall)
        print(f"  {bench.server.name} {CONCURRENT_STREAMS} streams {rep + 1}/{repeats}: "
              f"{aggregate[-1]:.1f} tok/s")  # fmt: skip
    return {"aggregate_tps": median(aggregate)}


async def time_to_first_token(bench: Bench, repeats: int) -> dict[str, float]:
    ttfts = []
    for rep in range(repeats):
        messages: Messages = [{"role": "user", "content": f"Question {rep + 1}: what is a map?"}]
        sample = await bench.stream(messages, 8)
        if sample.first is None:
            raise RuntimeError(f"{bench.server.name}: the short prompt produced no text")
        ttfts.append(sample.first - sample.sent)
    return {"ttft_ms": median(ttfts) * 1000}


async def prompt_processing(bench: Bench, prompts: list[str]) -> dict[str, float]:
    speeds, sizes = [], []
    for text in prompts:
        elapsed, prompt_tokens, _, _ = await bench.complete([{"role": "user", "content": text}], 1)
        speeds.append(prompt_tokens / elapsed)
        sizes.append(prompt_tokens)
        print(f"  {bench.server.name} prompt processing: {prompt_tokens} tokens, "
              f"{speeds[-1]:.0f} tok/s")  # fmt: skip
    return {"prompt_tps": median(speeds), "prompt_tokens": median([float(n) for n in sizes])}


# -- one server's run --------------------------------------------------------------------------


@dataclass
class Options:
    threads: int
    repeats: int
    max_tokens: int
    prompts: list[str] = field(default_factory=list)


async def measure(bench: Bench, opts: Options) -> dict[str, Any]:
    """Warm up, verify the token counts, then run every measurement in turn."""
    await bench.stream(story(), bench.max_tokens)  # warm-up
    results: dict[str, Any] = {"token_count_check": await check_counts(bench)}
    phases: list[Callable[[], Awaitable[dict[str, float]]]] = [
        lambda: single_stream(bench, opts.repeats),
        lambda: concurrent_streams(bench, opts.repeats),
        lambda: time_to_first_token(bench, max(opts.repeats, 5)),
        lambda: prompt_processing(bench, opts.prompts),
    ]
    for phase in phases:
        results |= await phase()
    return results


async def measure_server(server: Server, opts: Options) -> dict[str, Any]:
    source: Literal["usage", "chunks"] = "usage" if server.name == "corral" else "chunks"
    async with AsyncOpenAI(
        base_url=server.base_url, api_key=server.api_key, timeout=REQUEST_TIMEOUT_S, max_retries=0
    ) as client:
        return await measure(Bench(server, client, opts.max_tokens, source), opts)


def run_server(
    name: str, command: list[str], env: dict[str, str], opts: Options, workdir: Path, api_key: str
) -> dict[str, Any]:
    ready_path = "/readyz" if name == "corral" else "/v1/models"
    print(f"{name}: starting {' '.join(command)}")
    log = workdir / f"{name}.log"
    with running(name, command, env, ready_path, log, api_key) as server:
        print(f"  ready after {server.ready_s:.2f} s, idle RSS {server.idle_rss_mb:.0f} MB")
        results = asyncio.run(measure_server(server, opts))
        results |= {
            "ready_s": server.ready_s,
            "idle_rss_mb": server.idle_rss_mb,
            "rss_after_benchmark_mb": tree_rss_mb(server.proc.pid),
            "command": command,
        }
    return results


# -- report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One row of the table: which figure, which direction is better, and corral's target."""

    key: str
    label: str
    higher_is_better: bool
    target: str = ""
    passes: Callable[[float, float], bool] | None = None


METRICS = [
    Metric("decode_tps", "single stream: decode tok/s", True, "≥ 0.95x ref",
           lambda c, r: c >= 0.95 * r),
    Metric("end_to_end_tps", "single stream: end-to-end tok/s", True, "≥ 0.95x ref",
           lambda c, r: c >= 0.95 * r),
    Metric("aggregate_tps", f"{CONCURRENT_STREAMS} concurrent streams: aggregate tok/s", True,
           "≥ 0.95x ref", lambda c, r: c >= 0.95 * r),
    Metric("ttft_ms", "time to first token, short prompt (ms)", False, "≤ 1.1x ref",
           lambda c, r: c <= 1.1 * r),
    Metric("prompt_tps", "prompt processing tok/s", True),
    Metric("ready_s", "ready after (s)", False, "< 5 s", lambda c, r: c < 5.0),
    Metric("idle_rss_mb", "idle RSS after loading (MB)", False, "< 400 MB",
           lambda c, r: c < 400.0),
    Metric("rss_after_benchmark_mb", "RSS after the benchmark (MB)", False),
]  # fmt: skip


def verdicts(corral: dict[str, Any], reference: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for metric in METRICS:
        ours, theirs = float(corral[metric.key]), float(reference[metric.key])
        verdict = None
        if metric.passes is not None:
            verdict = "PASS" if metric.passes(ours, theirs) else "FAIL"
        rows.append(
            {
                "metric": metric.key,
                "label": metric.label,
                "corral": ours,
                "llama_cpp_server": theirs,
                "ratio_corral_over_reference": ours / theirs if theirs else None,
                "better": "higher" if metric.higher_is_better else "lower",
                "target": metric.target or None,
                "verdict": verdict,
            }
        )
    return rows


def machine_note(threads: int) -> dict[str, Any]:
    model_name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0))
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": model_name,
        "server_threads": threads,
        "note": f"{usable} CPU(s) usable; the client (this process, the openai SDK) and the server "
        f"under test share them, the server running {threads} inference thread(s). The two "
        "servers ran one after the other, never at the same time.",
    }


def print_table(rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
    console = Console(width=140)
    table = Table(title="corral vs llama_cpp.server (same GGUF, same threads)")
    for column in ("metric", "corral", "llama_cpp.server", "ratio corral/ref", "target", "result"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in rows:
        ratio = row["ratio_corral_over_reference"]
        arrow = "higher is better" if row["better"] == "higher" else "lower is better"
        table.add_row(
            row["label"],
            f"{row['corral']:.2f}",
            f"{row['llama_cpp_server']:.2f}",
            f"{ratio:.3f} ({arrow})" if ratio is not None else "-",
            row["target"] or "-",
            row["verdict"] or "info",
        )
    console.print(table)
    for name in ("corral", "llama_cpp.server"):
        check = results[name]["token_count_check"]
        console.print(
            f"{name}: tokens counted from {check['counted_from']}: "
            f"stream {check['stream_tokens_counted']}, "
            f"content chunks {check['stream_content_chunks']}, usage chunk "
            f"{check['stream_usage_completion_tokens']}, non-streamed usage "
            f"{check['non_streamed_usage_completion_tokens']}, max_tokens {check['max_tokens']}: "
            + ("OK" if check["ok"] else "MISMATCH")
        )
    console.print(f"same generated text from both servers: {results['same_text']}")
    console.print(f"prompt-processing prompt size: {results['corral']['prompt_tokens']:.0f} tokens")
    console.print(f"machine: {results['machine']['cpu_model']}; {results['machine']['note']}")


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--threads", type=int, default=2, help="inference threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--max-tokens", type=int, default=256, help="tokens per stream")
    parser.add_argument("--quick", action="store_true", help="one repetition of each measurement")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1 or args.max_tokens < 2:
        parser.error("--threads and --repeats must be ≥ 1, --max-tokens ≥ 2")
    return args


def run_both(opts: Options, path: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        workdir = Path(tmp)
        command, env = corral_command(workdir, path, opts.threads)
        corral = run_server("corral", command, env, opts, workdir, ADMIN_KEY)
        reference = reference_command(path, opts.threads)
        ref = run_server("llama_cpp.server", reference, clean_env(), opts, workdir, "unused")
    return {"corral": corral, "llama_cpp.server": ref}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    path = model_path()
    opts = Options(args.threads, repeats, args.max_tokens)
    opts.prompts = [long_prompt_text(LONG_PROMPT_TOKENS, v) for v in range(1, repeats + 1)]
    results: dict[str, Any] = {
        "model_path": str(path),
        "options": asdict(opts) | {"prompts": f"{len(opts.prompts)} long prompts"},
        "machine": machine_note(args.threads),
    }
    results |= run_both(opts, path)
    texts = [results[n]["token_count_check"]["text"] for n in ("corral", "llama_cpp.server")]
    results["same_text"] = texts[0] == texts[1]
    results["rows"] = verdicts(results["corral"], results["llama_cpp.server"])
    print_table(results["rows"], results)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
