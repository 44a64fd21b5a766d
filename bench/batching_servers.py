"""The two servers bench/batching_reference.py compares: corral serving the embedded GGUF with
`slots = N` (continuous batching in one context), and llama.cpp's own `llama-server` with
`--parallel N --cont-batching`, built by bench/build_llama_server.sh from the llama.cpp source
of the pinned llama-cpp-python. Same file, threads, per-sequence context, flash attention and
q8_0 KV cache (corral's defaults); both share one unified cache of `KV_CELLS` cells (or the
context, if longer) between all slots.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from corral.settings import EMBEDDED_MODEL_NAME, LocalModelConfig
from local_setup import ADMIN_KEY
from procs import HOST, ServerSpec, clean_env, free_port

LLAMA_SERVER = Path(__file__).resolve().parent / "llama_server" / "build" / "bin" / "llama-server"
KV_TYPE = "q8_0"
KV_CELLS = 16384
"""corral's default `kv_cells` with `slots` > 1; llama-server's `--ctx-size` is set to match."""


def corral_spec(
    workdir: Path,
    model: Path,
    threads: int,
    slots: int,
    context: int,
    kv_type: str = KV_TYPE,
    kv_cells: int | None = None,
) -> ServerSpec:
    config = workdir / "corral.toml"
    lines = [
        "embedded_model = false",
        "[[models]]",
        f'name = "{EMBEDDED_MODEL_NAME}"',
        f"path = {json.dumps(str(model))}",
        f"threads = {threads}",
        f"context_length = {context}",
        f"slots = {slots}",
        f"queue_size = {4 * slots}",
        f'kv_cache_type = "{kv_type}"',
    ]
    if kv_cells is not None:
        lines.append(f"kv_cells = {kv_cells}")
    config.write_text("\n".join(lines) + "\n")
    # corral's flash attention is on by default; llama-server gets it on too.
    assert LocalModelConfig.model_fields["flash_attention"].default is True
    port = free_port()
    command = [str(Path(sys.prefix) / "bin" / "corral"), "serve", "--host", HOST]
    command += ["--port", str(port), "--config", str(config)]
    env = clean_env() | {"CORRAL_HOME": str(workdir / "home"), "CORRAL_ADMIN_KEY": ADMIN_KEY}
    return ServerSpec(f"corral slots={slots}", command, env, None, port, "/readyz")


def llama_server_spec(model: Path, threads: int, slots: int, context: int) -> ServerSpec:
    if not LLAMA_SERVER.is_file():
        raise SystemExit(f"{LLAMA_SERVER} is missing: run bench/build_llama_server.sh first")
    port = free_port()
    command = [
        str(LLAMA_SERVER), "--model", str(model), "--alias", EMBEDDED_MODEL_NAME,
        "--threads", str(threads), "--threads-batch", str(threads),
        # -c is the whole cache, unified as corral's: each sequence may use all of it.
        "--ctx-size", str(max(KV_CELLS, context)), "--kv-unified",
        "--parallel", str(slots), "--cont-batching",
        "--flash-attn", "on", "--cache-type-k", KV_TYPE, "--cache-type-v", KV_TYPE,
        "--no-webui", "--host", HOST, "--port", str(port),
    ]  # fmt: skip
    # corral's processes run OpenMP with OMP_WAIT_POLICY=PASSIVE (set when corral.finetune is
    # imported, which the app does); llama-server gets the same. Without it, on this shared
    # 2-core machine, one llama-server stream decoded 7.0 tok/s against 52.5 with it.
    env = clean_env() | {"OMP_WAIT_POLICY": "PASSIVE"}
    return ServerSpec(f"llama-server -np {slots}", command, env, None, port, "/health")
