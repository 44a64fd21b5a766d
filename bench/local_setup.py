"""What bench/local_inference.py compares: corral and llama_cpp.server on the same GGUF with the
same settings, how each is started, and the long prompts both are given.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp

from corral.backends.llama_cpp.loader import KV_CACHE_TYPES
from corral.settings import EMBEDDED_MODEL_NAME, LocalModelConfig, load_settings
from local_client import TokenSource
from procs import HOST, ServerSpec, clean_env, free_port

CONTEXT_LENGTH = 8192
LONG_PROMPT_TOKENS = 4000
ADMIN_KEY = "sk-corral-bench"


@dataclass
class Options:
    threads: int
    repeats: int
    max_tokens: int
    model_options: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class LocalServer:
    """One server under test: how to start it, its API key, and where its token counts come
    from (corral's usage chunk, or llama_cpp.server's content chunks)."""

    spec: ServerSpec
    api_key: str
    token_source: TokenSource

    @property
    def name(self) -> str:
        return self.spec.name


def corral_server(workdir: Path, model_path: Path, opts: Options) -> LocalServer:
    config = workdir / "corral.toml"
    config.write_text(corral_config(model_path, opts))
    port = free_port()
    command = [str(Path(sys.prefix) / "bin" / "corral"), "serve", "--host", HOST]
    command += ["--port", str(port), "--config", str(config)]
    env = clean_env() | {"CORRAL_HOME": str(workdir / "home"), "CORRAL_ADMIN_KEY": ADMIN_KEY}
    spec = ServerSpec("corral", command, env, None, port, "/readyz")
    return LocalServer(spec, ADMIN_KEY, "usage")


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


def reference_server(workdir: Path, model_path: Path, threads: int) -> LocalServer:
    """llama_cpp.server with the attention and KV-cache settings corral's config resolves to."""
    served = load_settings(workdir / "corral.toml").models[0]
    assert isinstance(served, LocalModelConfig)
    kv_type = str(KV_CACHE_TYPES[served.kv_cache_type])
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--n_ctx", str(CONTEXT_LENGTH), "--interrupt_requests", "False",
        "--flash_attn", str(served.flash_attention), "--type_k", kv_type, "--type_v", kv_type,
        "--model_alias", EMBEDDED_MODEL_NAME, "--host", HOST, "--port", str(port),
    ]  # fmt: skip
    spec = ServerSpec("llama_cpp.server", command, clean_env(), None, port, "/v1/models")
    return LocalServer(spec, "unused", "chunks")


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
