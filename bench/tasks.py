"""Benchmark: explaining a 2,000-message chat with the embedded model, against just reading it.

Target (from the issue): explaining the 2,000-message group chat end to end with the embedded
model takes at most 1.5 x the time llama.cpp needs to read all of its tokens once, measured in
the same run, so that map-reduce adds little beyond the unavoidable reading.

Method, in one process, on the same loaded model (corral's embedded SmolLM2, its default
settings): (a) reading: the chat's messages as the task renders them ("[id] author: text"
lines), cut into the same pieces the task reads them in, each piece evaluated once
(`max_tokens=1`), timed in total; (b) the task: `explain-conversation` through corral's task
engine and gateway (each piece read once and its key messages named, then one call explaining
those), timed end to end. The ratio is (b) / (a): what the task costs beyond reading every token
once. Reading in the same pieces keeps the comparison fair: on a CPU a token costs more the
further into the context it sits, so longer reference pieces would flatter the ratio. The chat
is the committed fixture `tests/tasks/fixtures/whatsapp_android_en.txt` unless `--chat` names
another.

Run: `.venv/bin/python bench/tasks.py` (also in `make bench`). Writes bench/results/tasks.json.
Reading ~47,000 tokens dominates: about 45 minutes in all on this 2-core machine kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from corral.api.tasks.protocol import ExplainRequest
from corral.api.tasks.serving import TaskServing
from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.services import build_services
from corral.settings import EMBEDDED_MODEL_NAME, load_settings
from corral.tasks.chat_export import parse_chat
from corral.tasks.engine import ModelCaller, TaskMeta, chunks
from corral.tasks.explain import PICK_TOKENS, render_line

ROOT = Path(__file__).resolve().parent.parent
CHAT = ROOT / "tests" / "tasks" / "fixtures" / "whatsapp_android_en.txt"
RESULTS = Path(__file__).resolve().parent / "results" / "tasks.json"
TARGET_RATIO = 1.5


async def measure(chat_path: Path, text: str) -> dict[str, Any]:
    lines = parse_chat(text)
    with tempfile.TemporaryDirectory() as home:
        services = build_services(load_settings(home=Path(home)), SecretStr("sk-bench"))
        gateway = services.gateway
        entry = gateway.catalog.get(EMBEDDED_MODEL_NAME)
        await entry.backend.start()
        try:
            spoken = [render_line(line) for line in lines if line.kind != "system"]
            reading = await read_once(services, spoken)
            started = time.perf_counter()
            answer = await TaskServing(gateway).explain(
                RequestContext("req_bench_explain", ADMIN),
                ExplainRequest(model=EMBEDDED_MODEL_NAME, chat=text),
            )
            explaining = time.perf_counter() - started
        finally:
            await entry.backend.close()
            await services.ledger.aclose()
            services.db.close()
    return {
        "chat": str(chat_path.relative_to(ROOT))
        if chat_path.is_relative_to(ROOT)
        else str(chat_path),
        "messages": len(lines),
        "reading": reading,
        "explain_s": round(explaining, 2),
        "explain_meta": answer["meta"],
        "ratio": round(explaining / reading["seconds"], 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": explaining / reading["seconds"] <= TARGET_RATIO,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
    }


async def read_once(services: Any, rendered: list[str]) -> dict[str, Any]:
    """Evaluate every token of the chat once, in the pieces the task reads (no answer)."""
    gateway = services.gateway
    ctx = RequestContext("req_bench_read", ADMIN)
    target = await gateway.resolve(ctx, EMBEDDED_MODEL_NAME)
    caller = ModelCaller(gateway, ctx, target, TaskMeta(EMBEDDED_MODEL_NAME, "en"))
    backend = target.candidates[0].backend
    tokens, seconds = 0, 0.0
    pieces = chunks(rendered, caller.input_budget(PICK_TOKENS))
    for number, run in enumerate(pieces):
        request = GenerationRequest(
            request_id=f"req_bench_read.{number}",
            params=SamplingParams(max_tokens=1, temperature=0),
            messages=(ChatMessage("user", f"{number}\n" + "\n".join(rendered[i] for i in run)),),
        )
        started = time.perf_counter()
        result = await backend.generate(request)
        seconds += time.perf_counter() - started
        tokens += result.usage.prompt_tokens
    return {
        "pieces": len(pieces),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--chat", type=Path, default=CHAT)
    args = parser.parse_args()
    result = asyncio.run(measure(args.chat, args.chat.read_text(encoding="utf-8")))
    reading = result["reading"]
    print(f"chat: {result['chat']} ({result['messages']} messages)")
    read = f"{reading['seconds']:8.2f} s  ({reading['pieces']} pieces, {reading['tokens']} tokens"
    print(f"reading once:  {read}, {reading['tokens_per_s']} tok/s)")
    print(
        f"explaining:    {result['explain_s']:8.2f} s  ({result['explain_meta']['chunks']} chunks)"
    )
    verdict = "meets" if result["meets_target"] else "misses"
    print(f"ratio {result['ratio']:.3f} (target <= {TARGET_RATIO}): {verdict}")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
