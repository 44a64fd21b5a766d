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

The code: bench/local_setup.py (the two servers and the long prompts), local_client.py (the
requests), local_measure.py (the cells), local_rounds.py (rounds and retries), local_report.py
(table, notes, JSON); starting, readiness and stopping of the servers are bench/procs.py's,
shared with bench/gateway.py.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from local_report import print_notes, print_table, summarise
from local_rounds import run_rounds
from local_setup import Options, long_prompts, model_path

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "local_inference.json"


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
