"""Benchmark: multiple-choice scoring through corral against llama.cpp scoring each option alone.

The corpus is `corpus/multiple_choice/mc40.jsonl` (40 hand-written 4-way questions). Each item
is scored the way evaluation harnesses score it: the log-likelihood of each option's tokens
after the context `Question: ...\\nAnswer:`; the pick is the option with the highest total
(`acc`) and with the highest total per character (`acc_norm`).

* corral: `corral serve` on the embedded model, over HTTP on loopback with the `openai` SDK, one
  `/v1/completions` request per item carrying the four prompts (`echo`, `logprobs=0`,
  `max_tokens=0`), as lm-evaluation-harness's `local-completions` sends them.
* reference: the same GGUF in llama-cpp-python in this process, with the server's attention
  and KV-cache settings, every option evaluated from scratch (what a server without prefix
  reuse does).

Both run in one invocation, one after the other, on the same machine; the ratio is corral's
time over the reference's. Every item's pick must be the same for both (the logprobs are
bit-identical: tests/api/test_scoring.py), or the run fails. Results go to
`bench/results/scoring.json`.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import llama_cpp
import openai

from corral.backends.llama_cpp.engine import log_softmax
from corral.backends.llama_cpp.loader import KV_CACHE_TYPES
from corral.settings import EMBEDDED_MODEL_NAME, load_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test support starts `corral serve` as the tests do

from tests.support import ADMIN_KEY, start_server  # noqa: E402

CORPUS = ROOT / "corpus" / "multiple_choice" / "mc40.jsonl"
RESULTS = ROOT / "bench" / "results" / "scoring.json"


def context(item: dict[str, Any]) -> str:
    return f"Question: {item['question']}\nAnswer:"


def picks(totals: list[float], options: list[str]) -> tuple[int, int]:
    plain = max(range(len(totals)), key=lambda i: totals[i])
    norm = max(range(len(totals)), key=lambda i: totals[i] / len(options[i]))
    return plain, norm


def score_with_corral(items: list[dict[str, Any]]) -> tuple[float, list[list[float]]]:
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home))
        try:
            client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY)
            client.completions.create(model=EMBEDDED_MODEL_NAME, prompt="warm up", max_tokens=1)
            started = time.perf_counter()
            totals = [_corral_item(client, item) for item in items]
            return time.perf_counter() - started, totals
        finally:
            server.stop()


def _corral_item(client: openai.OpenAI, item: dict[str, Any]) -> list[float]:
    ctx = context(item)
    options = [" " + choice for choice in item["choices"]]
    answer = client.completions.create(
        model=EMBEDDED_MODEL_NAME,
        prompt=[ctx + option for option in options],
        echo=True,
        logprobs=0,
        max_tokens=0,
    )
    totals = []
    for choice in answer.choices:
        logprobs: Any = choice.logprobs
        # The option's tokens are those whose text starts at or after the context's end.
        start = len(ctx)
        totals.append(
            sum(
                lp
                for lp, offset in zip(logprobs.token_logprobs, logprobs.text_offset, strict=True)
                if offset >= start
            )
        )
    return totals


def score_directly(items: list[dict[str, Any]]) -> tuple[float, list[list[float]]]:
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
    try:
        started = time.perf_counter()
        totals = [_direct_item(llama, item) for item in items]
        return time.perf_counter() - started, totals
    finally:
        llama.close()


def _direct_item(llama: llama_cpp.Llama, item: dict[str, Any]) -> list[float]:
    ctx = context(item)
    totals = []
    for choice in item["choices"]:
        text = ctx + " " + choice
        tokens = llama.tokenize(text.encode(), add_bos=True, special=False)
        llama.n_tokens = 0  # from scratch: nothing of the previous option is reused
        llama.eval(tokens)
        offset, total = 0, 0.0
        for index, token in enumerate(tokens):
            if index and offset >= len(ctx):
                total += float(log_softmax(llama.scores[index - 1])[token])
            offset += len(llama.detokenize([token]).decode("utf-8", errors="replace"))
        totals.append(total)
    return totals


def main() -> None:
    items = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    corral_s, corral_totals = score_with_corral(items)
    direct_s, direct_totals = score_directly(items)
    rows = []
    for item, ours, theirs in zip(items, corral_totals, direct_totals, strict=True):
        options = [" " + c for c in item["choices"]]
        rows.append((picks(ours, options), picks(theirs, options), item["answer"]))
    same = sum(ours == theirs for ours, theirs, _ in rows)
    if same != len(rows):
        raise SystemExit(f"picks differ on {len(rows) - same} of {len(rows)} items")
    acc = sum(ours[0] == answer for ours, _, answer in rows) / len(rows)
    acc_norm = sum(ours[1] == answer for ours, _, answer in rows) / len(rows)
    result = {
        "items": len(items),
        "corral_s": round(corral_s, 2),
        "llama_cpp_each_option_alone_s": round(direct_s, 2),
        "ratio": round(corral_s / direct_s, 2),
        "acc": acc,
        "acc_norm": acc_norm,
        "same_picks": f"{same}/{len(rows)}",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    print(f"{'':32}{'seconds':>10}")
    print(f"{'corral (4 prompts a request)':32}{corral_s:>10.2f}")
    print(f"{'llama.cpp, each option alone':32}{direct_s:>10.2f}")
    print(
        f"ratio {result['ratio']} (target <= 0.6); acc {acc:.3f}, acc_norm {acc_norm:.3f}; "
        f"same picks {same}/{len(rows)}"
    )
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
