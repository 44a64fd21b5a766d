"""Benchmark: corral's local inference against llama-cpp-python's own server, in one run.

Both servers load the same GGUF file (corral's embedded SmolLM2-135M-Instruct, found with
`corral.settings.load_settings().embedded_model_path`) with the same thread count, context
length, flash-attention setting and KV-cache type (llama_cpp.server gets the values corral's
config resolves to, corral's defaults unless `--model-option` says otherwise), and are driven
by the same client (the official `openai` SDK, `AsyncOpenAI`) with the same requests: streamed
chat completions, `temperature=0`, a fixed `seed`.

The run is `--repeats` rounds. In each round each server is started, warmed up with one request,
measured once on every metric below, and stopped; the servers take turns (the order alternates
from round to round) and never run at the same time. Every figure is the median over the rounds.

What is measured, per server:

* ready time: from process start until `GET /readyz` (corral) or `GET /v1/models`
  (llama_cpp.server) answers 200; and the server's RSS (VmRSS of the process and its
  children, from /proc) when idle just after that, and again after the round.
* single stream: decode tokens/s = (tokens - 1) / (time of last token - time of first token),
  the rate over the intervals between tokens; and end-to-end tokens/s = tokens / (time from
  sending the request until the stream ended).
* 4 concurrent streams: aggregate tokens/s = sum of tokens / wall time from the first request
  sent until the last stream ended. Both servers run one model instance, so the streams are
  served one at a time; this measures queueing overhead, not parallel speed-up.
* time to first token for a short prompt: request sent until the first non-empty content chunk
  (10 requests a round, each with a different question number).
* prompt processing: a ~4,000-token prompt with `max_tokens=1`, non-streamed; prompt tokens (the
  server's `usage.prompt_tokens`) / total request time. The prompt's first line differs from round
  to round (both servers get the same prompt in a round) and each server is fresh, so no prefix
  cache can skip it.

How tokens are counted: a "token" is one generated (completion) token. Both servers get the
same `max_tokens`, and a prompt that makes the model ramble, so neither stops early at
end-of-sequence; every stream is checked to have produced exactly `max_tokens`, or the run fails.

* corral: `usage.completion_tokens` from the final usage chunk of the stream
  (`stream_options={"include_usage": True}`).
* llama_cpp.server sends no usage chunk in streams, so its tokens are the number of chunks with
  non-empty `delta.content` (it sends one per token).

Both counts are verified once per server: the chunk count (both servers), the usage chunk
(corral) and `usage.completion_tokens` of a non-streamed copy of the same request must all equal
`max_tokens`; the result is printed and stored. The requests also carry `repeat_penalty=1.0`
(llama-cpp-python's extension; corral ignores unknown fields and never applies one), so both run
plain greedy decoding and should produce the same text, which is checked too.

Client and servers share the machine's CPUs; the machine note in the output says how many. The
script also measures how much CPU other processes (and the hypervisor's steal) took while each
server was measured. A round where that exceeds 5% of the machine is run again (3 attempts at
most, the quietest kept), and a warning is printed if a kept round is still noisy.

Run it with `make bench`, which runs `.venv/bin/python bench/local_inference.py`; options:
`--threads N` (default 2), `--repeats N` (default 3), `--max-tokens N` (default 256), `--quick`
(one round). The table is printed; the results are also written as JSON to
`bench/results/local_inference.json`. llama_cpp.server needs llama-cpp-python's `[server]` extra
(`sse-starlette`, `starlette-context`) in the venv. A full run takes about 10 minutes on 2 cores,
most of it prompt processing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import httpx
import llama_cpp
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from rich.console import Console
from rich.table import Table

from corral.backends.llama_cpp.loader import KV_CACHE_TYPES
from corral.settings import EMBEDDED_MODEL_NAME, LocalModelConfig, load_settings

HOST = "127.0.0.1"
CONTEXT_LENGTH = 8192
SEED = 1234
CONCURRENT_STREAMS = 4
TTFT_PER_ROUND = 10
TTFT_MAX_TOKENS = 8
LONG_PROMPT_TOKENS = 4000
READY_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 300.0
NOISY_SHARE = 0.05
ROUND_ATTEMPTS = 3
ADMIN_KEY = "sk-corral-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "local_inference.json"
STORY_PROMPT = (
    "Write a very long story about a lighthouse keeper who finds a map to a hidden island. "
    "Describe every day of the journey in great detail, chapter by chapter."
)
# llama-cpp-python's extension field; corral ignores it (it never applies a repeat penalty).
EXTRA_BODY: dict[str, Any] = {"repeat_penalty": 1.0}

Messages = list[ChatCompletionMessageParam]
TokenSource = Literal["usage", "chunks"]
Samples = dict[str, list[float]]


# -- processes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server under test and how to talk to it."""

    name: str
    command: list[str]
    env: dict[str, str]
    ready_path: str
    api_key: str
    token_source: TokenSource

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.command[self.command.index('--port') + 1]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without CORRAL_* variables, so the user's own settings do not leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}


def corral_spec(workdir: Path, model_path: Path, opts: Options) -> ServerSpec:
    config = workdir / "corral.toml"
    config.write_text(corral_config(model_path, opts))
    command = [str(Path(sys.prefix) / "bin" / "corral"), "serve", "--host", HOST]
    command += ["--port", str(free_port()), "--config", str(config)]
    env = clean_env() | {"CORRAL_HOME": str(workdir / "home"), "CORRAL_ADMIN_KEY": ADMIN_KEY}
    return ServerSpec("corral", command, env, "/readyz", ADMIN_KEY, "usage")


def corral_config(model_path: Path, opts: Options) -> str:
    """corral's config file: threads and context pinned, plus any `--model-option` lines."""
    lines = [
        "embedded_model = false",
        "[[models]]",
        f'name = "{EMBEDDED_MODEL_NAME}"',
        f"path = {json.dumps(str(model_path))}",
        f"threads = {opts.threads}",
        f"context_length = {CONTEXT_LENGTH}",
        *opts.model_options,
    ]
    return "\n".join(lines) + "\n"


def corral_source_digest() -> str:
    """A digest of corral's installed source, to notice it changing during a run."""
    spec = importlib.util.find_spec("corral")
    if spec is None or spec.origin is None:
        return "unknown"
    root, digest = Path(spec.origin).parent, hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def reference_spec(workdir: Path, model_path: Path, threads: int) -> ServerSpec:
    """llama_cpp.server with the attention and KV-cache settings corral's config resolves to."""
    served = load_settings(workdir / "corral.toml").models[0]
    assert isinstance(served, LocalModelConfig)
    kv_type = str(KV_CACHE_TYPES[served.kv_cache_type])
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--n_ctx", str(CONTEXT_LENGTH), "--interrupt_requests", "False",
        "--flash_attn", str(served.flash_attention), "--type_k", kv_type, "--type_v", kv_type,
        "--model_alias", EMBEDDED_MODEL_NAME, "--host", HOST, "--port", str(free_port()),
    ]  # fmt: skip
    return ServerSpec("llama_cpp.server", command, clean_env(), "/v1/models", "unused", "chunks")


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc/PID/task/*/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (and its anonymous and file-backed parts) of a process tree, in MB (10^6 bytes)."""
    wanted = {"VmRSS:": "rss_mb", "RssAnon:": "anon_mb", "RssFile:": "file_mb"}
    totals = dict.fromkeys(wanted.values(), 0.0)
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                key = line.split(maxsplit=1)[0] if line else ""
                if key in wanted:
                    totals[wanted[key]] += int(line.split()[1]) * 1024 / 1e6
    return totals


class CpuMeter:
    """CPU time taken by everything except the server tree and this client, as a machine share."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid
        self._start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        # user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
        busy = (sum(fields[:3]) + sum(fields[5:8])) / CLK_TCK
        server = 0.0
        for member in process_tree(self._pid):
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{member}/stat").read_text()
                parts = stat[stat.rindex(")") + 2 :].split()
                server += (int(parts[11]) + int(parts[12])) / CLK_TCK
        own = os.times()
        return time.monotonic(), busy, server, own.user + own.system

    def foreign_share(self) -> float:
        end = self._read()
        wall, busy, server, own = (b - a for a, b in zip(self._start, end, strict=True))
        return max(0.0, busy - server - own) / (wall * (os.cpu_count() or 1))


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
def running(spec: ServerSpec, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start a server and wait until it is ready; yield it and its ready time; always stop it."""
    with log.open("wb") as log_file:
        started = time.monotonic()
        proc = subprocess.Popen(spec.command, env=spec.env, stdout=log_file, stderr=log_file)
        try:
            yield proc, wait_ready(proc, spec.base_url + spec.ready_path, started)
        except BaseException:
            tail = log.read_text(errors="replace")[-4000:]
            sys.stderr.write(f"--- end of the {spec.name} log ({log}) ---\n{tail}\n")
            raise
        finally:
            stop(proc)


# -- requests ------------------------------------------------------------------------------------


@dataclass
class StreamSample:
    """One streamed request: times (monotonic s), chunk count and the server's usage (if any)."""

    sent: float
    first: float | None = None
    last: float | None = None
    ended: float = 0.0
    content_chunks: int = 0
    usage_tokens: int | None = None
    prompt_tokens: int | None = None
    text: str = ""

    def tokens(self, source: TokenSource) -> int:
        if source == "chunks":
            return self.content_chunks
        if self.usage_tokens is None:
            raise RuntimeError("the stream sent no usage chunk")
        return self.usage_tokens


@dataclass
class Bench:
    """One running server under test: a client for it and the knobs every request shares."""

    name: str
    client: AsyncOpenAI
    max_tokens: int
    token_source: TokenSource

    async def stream(self, messages: Messages, max_tokens: int) -> StreamSample:
        sample = StreamSample(sent=time.monotonic())
        stream = await self.client.chat.completions.create(
            model=EMBEDDED_MODEL_NAME,
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
                sample.prompt_tokens = chunk.usage.prompt_tokens
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
            model=EMBEDDED_MODEL_NAME,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
            seed=SEED,
            extra_body=EXTRA_BODY,
        )
        elapsed = time.monotonic() - sent
        if response.usage is None:
            raise RuntimeError(f"{self.name} sent no usage")
        usage, text = response.usage, response.choices[0].message.content or ""
        return elapsed, usage.prompt_tokens, usage.completion_tokens, text


def story(variant: int = 0) -> Messages:
    suffix = f" (Story number {variant}.)" if variant else ""
    return [{"role": "user", "content": STORY_PROMPT + suffix}]


def long_prompt_text(vocab: llama_cpp.Llama, target_tokens: int, variant: int) -> str:
    """A prompt of about `target_tokens` tokens of varied sentences; its first line is unique."""
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
    return text


def long_prompts(path: Path, count: int) -> list[str]:
    vocab = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    try:
        return [long_prompt_text(vocab, LONG_PROMPT_TOKENS, v) for v in range(1, count + 1)]
    finally:
        vocab.close()


def model_path() -> Path:
    return Path(load_settings().embedded_model_path)


# -- measurements --------------------------------------------------------------------------------


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
    if any(n != bench.max_tokens for n in counts):
        raise RuntimeError(
            f"{bench.name}: streams produced {counts} tokens, not {bench.max_tokens} each "
            "(stopped early at end-of-sequence?); the throughput figures would not compare"
        )
    return counts


async def single_stream(bench: Bench) -> Samples:
    sample = await bench.stream(story(), bench.max_tokens)
    (tokens,) = require_full(bench, [sample])
    if sample.first is None or sample.last is None or sample.last <= sample.first:
        raise RuntimeError(f"{bench.name}: the stream's tokens have no measurable span")
    return {
        "decode_tps": [(tokens - 1) / (sample.last - sample.first)],
        "end_to_end_tps": [tokens / (sample.ended - sample.sent)],
    }


async def concurrent_streams(bench: Bench) -> Samples:
    started = time.monotonic()
    samples = await asyncio.gather(
        *(bench.stream(story(i + 1), bench.max_tokens) for i in range(CONCURRENT_STREAMS))
    )
    wall = max(s.ended for s in samples) - started
    return {"aggregate_tps": [sum(require_full(bench, list(samples))) / wall]}


async def time_to_first_token(bench: Bench, round_index: int) -> Samples:
    ttfts, sizes = [], []
    for k in range(TTFT_PER_ROUND):
        number = round_index * TTFT_PER_ROUND + k + 1
        messages: Messages = [{"role": "user", "content": f"Question {number}: what is a map?"}]
        sample = await bench.stream(messages, TTFT_MAX_TOKENS)
        if sample.first is None:
            raise RuntimeError(f"{bench.name}: the short prompt produced no text")
        ttfts.append((sample.first - sample.sent) * 1000)
        if sample.prompt_tokens is not None:  # only corral reports usage in streams
            sizes.append(float(sample.prompt_tokens))
    return {"ttft_ms": ttfts} | ({"short_prompt_tokens": sizes} if sizes else {})


async def prompt_processing(bench: Bench, text: str) -> Samples:
    elapsed, prompt_tokens, _, _ = await bench.complete([{"role": "user", "content": text}], 1)
    return {"prompt_tps": [prompt_tokens / elapsed], "prompt_tokens": [float(prompt_tokens)]}


# -- rounds --------------------------------------------------------------------------------------


@dataclass
class Options:
    threads: int
    repeats: int
    max_tokens: int
    model_options: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list, repr=False)


@dataclass
class Round:
    """One server's figures from one round (one start, one measurement of everything, stop)."""

    samples: Samples = field(default_factory=dict)
    token_check: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    foreign: float = 0.0

    def add(self, values: Samples) -> None:
        for key, found in values.items():
            self.samples.setdefault(key, []).extend(found)


@dataclass
class Collected:
    """Everything measured on one server, over all rounds."""

    spec: ServerSpec
    rounds: list[Round] = field(default_factory=list)

    def samples(self) -> Samples:
        merged = Round()
        for kept in self.rounds:
            merged.add(kept.samples)
        return merged.samples

    def medians(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.samples().items() if v}

    def token_check(self) -> dict[str, Any]:
        return next(r.token_check for r in self.rounds if r.token_check)


async def measure_round(bench: Bench, opts: Options, index: int, out: Round) -> None:
    await bench.stream(story(), bench.max_tokens)  # warm-up
    if index == 0:
        out.token_check = await check_counts(bench)
    out.add(await single_stream(bench))
    out.add(await concurrent_streams(bench))
    out.add(await time_to_first_token(bench, index))
    out.add(await prompt_processing(bench, opts.prompts[index]))


async def measure_server(spec: ServerSpec, opts: Options, index: int, out: Round) -> None:
    async with AsyncOpenAI(
        base_url=spec.base_url + "/v1",
        api_key=spec.api_key,
        timeout=REQUEST_TIMEOUT_S,
        max_retries=0,
    ) as client:
        await measure_round(
            Bench(spec.name, client, opts.max_tokens, spec.token_source), opts, index, out
        )


def run_round(spec: ServerSpec, opts: Options, index: int, log: Path) -> Round:
    """Start one server, measure it once on everything, stop it."""
    out = Round()
    with running(spec, log) as (proc, ready_s):
        time.sleep(0.5)  # let the process settle before sampling its idle footprint
        idle = tree_memory_mb(proc.pid)
        meter = CpuMeter(proc.pid)
        asyncio.run(measure_server(spec, opts, index, out))
        out.foreign = meter.foreign_share()
        after = tree_memory_mb(proc.pid)
    out.add({"ready_s": [ready_s], "idle_rss_mb": [idle["rss_mb"]]})
    out.add({"rss_after_round_mb": [after["rss_mb"]], "foreign_cpu_pct": [out.foreign * 100]})
    out.info = {"ready_s": ready_s, "idle_memory": idle, "memory_after": after}
    return out


def run_quiet_round(out: Collected, opts: Options, index: int, workdir: Path) -> None:
    """A round, run again (at most ROUND_ATTEMPTS times) while other processes disturb it."""
    best: Round | None = None
    for attempt in range(1, ROUND_ATTEMPTS + 1):
        log = workdir / f"{out.spec.name}-{index}-{attempt}.log"
        result = run_round(out.spec, opts, index, log)
        last = {k: v[-1] for k, v in result.samples.items() if v}
        print(
            f"  round {index + 1} {out.spec.name}: ready {last['ready_s']:.2f} s, idle RSS "
            f"{last['idle_rss_mb']:.0f} MB, decode {last['decode_tps']:.1f} tok/s, "
            f"{CONCURRENT_STREAMS} streams {last['aggregate_tps']:.1f} tok/s, "
            f"TTFT {last['ttft_ms']:.0f} ms, prompt {last['prompt_tps']:.0f} tok/s, "
            f"other processes {result.foreign:.0%} of the CPUs",
            flush=True,
        )
        if best is None or result.foreign < best.foreign:
            best = result
        if result.foreign <= NOISY_SHARE:
            break
        print(f"    noisy (attempt {attempt} of {ROUND_ATTEMPTS}); the quietest attempt is kept")
    assert best is not None
    out.rounds.append(best)


# -- report --------------------------------------------------------------------------------------


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


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--threads", type=int, default=2, help="inference threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--max-tokens", type=int, default=256, help="tokens per stream")
    parser.add_argument("--quick", action="store_true", help="one round only")
    parser.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=TOML",
        help="an extra line for corral's [[models]] entry, e.g. 'flash_attention = false' "
        "(repeatable; the default is corral's own defaults)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1 or args.max_tokens < 2:
        parser.error("--threads and --repeats must be at least 1, --max-tokens at least 2")
    if any("=" not in option for option in args.model_option):
        parser.error("--model-option takes KEY=VALUE, the value in TOML syntax")
    return args


def run_rounds(opts: Options, path: Path) -> tuple[dict[str, Collected], list[str]]:
    """All rounds; also corral's source digest before the run and after every round."""
    digests = [corral_source_digest()]
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        workdir = Path(tmp)
        servers = [corral_spec(workdir, path, opts), reference_spec(workdir, path, opts.threads)]
        for spec in servers:
            print(f"{spec.name}: {' '.join(spec.command)}")
        collected = {spec.name: Collected(spec) for spec in servers}
        for index in range(opts.repeats):
            for spec in servers if index % 2 == 0 else servers[::-1]:
                run_quiet_round(collected[spec.name], opts, index, workdir)
                digests.append(corral_source_digest())
    return collected, digests


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
            "command": out.spec.command,
        }
    texts = [collected[n].token_check()["text"] for n in ("corral", "llama_cpp.server")]
    results["same_text"] = texts[0] == texts[1]
    results["rows"] = verdicts(results["corral"]["medians"], results["llama_cpp.server"]["medians"])
    return results


def exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    path = model_path()
    repeats = 1 if args.quick else args.repeats
    opts = Options(args.threads, repeats, args.max_tokens, args.model_option)
    opts.prompts = long_prompts(path, opts.repeats)
    results = summarise(*run_rounds(opts, path), opts, path)
    print_table(results["rows"])
    print_notes(results)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
