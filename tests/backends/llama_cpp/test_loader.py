"""Opening GGUF files: what `loader` asks of llama.cpp, whatever CPU the machine has."""

from __future__ import annotations

import subprocess
import sys

import llama_cpp
import pytest

from corral.backends.llama_cpp import loader
from corral.settings import LocalModelConfig, load_settings


def model_params_of_one_load(monkeypatch: pytest.MonkeyPatch, system_info: bytes) -> bool:
    """Whether a load on a CPU reporting `system_info` would let llama.cpp repack weights."""
    seen: list[bool] = []

    class Recording:
        def __init__(self, path: str, **_: object) -> None:
            seen.append(llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts)
            self.verbose = True

    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: system_info)
    monkeypatch.setattr(llama_cpp, "Llama", Recording)
    loader.open_vocab(load_settings().embedded_model_path)
    return seen[0]


def test_on_an_amx_cpu_the_weights_stay_off_the_amx_kernels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # llama.cpp's AMX matmul crashes the process on some machines (llama.cpp issue #20824).
    assert model_params_of_one_load(monkeypatch, b"AVX512 = 1 | AMX_INT8 = 1 |") is False
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True


def test_elsewhere_llama_cpp_keeps_its_weight_repacking(monkeypatch: pytest.MonkeyPatch) -> None:
    assert model_params_of_one_load(monkeypatch, b"AVX2 = 1 | AVX512 = 1 |") is True


_READ_A_PROMPT = """
from corral.backends.llama_cpp import loader
from corral.settings import LocalModelConfig, load_settings
config = LocalModelConfig(name="smol", path=load_settings().embedded_model_path)
llama = loader.open_generator(config, n_ctx=512)
tokens = llama.tokenize(b"Explain in one sentence why the sky is blue.")
llama.eval(tokens)
print(len(tokens), llama.n_tokens)
"""


def test_the_embedded_model_reads_a_prompt_of_many_tokens_on_this_machine() -> None:
    # Batches of two tokens or more are where the AMX kernels crashed the whole process, so
    # the prompt is read in a process of its own: a crash fails this test, not the run.
    done = subprocess.run(
        [sys.executable, "-c", _READ_A_PROMPT], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    prompt, read = done.stdout.split()
    assert int(prompt) > 2 and read == prompt


def test_a_q4_0_kv_cache_loads_and_answers() -> None:
    config = LocalModelConfig(
        name="smol", path=load_settings().embedded_model_path, kv_cache_type="q4_0"
    )
    llama = loader.open_generator(config, n_ctx=256)
    try:
        answer = llama.create_completion("The sky is", max_tokens=8, temperature=0.0)
    finally:
        llama.close()

    assert isinstance(answer, dict)
    assert answer["choices"][0]["text"].strip() != ""
    assert answer["usage"]["completion_tokens"] > 0
