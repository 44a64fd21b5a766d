"""The first job on a base makes its float copy and, in the same pass over the served GGUF,
the F32 GGUF that the parity check runs llama.cpp on: nothing left to make at parity time."""

from __future__ import annotations

from pathlib import Path

from corral.finetune import parity
from corral.finetune.base import F32_NAME
from corral.settings import load_settings


def test_the_float_copy_comes_with_the_f32_gguf_of_the_served_base(
    embedded_float_copy: Path,
) -> None:
    import gguf

    served = gguf.GGUFReader(str(load_settings().embedded_model_path))
    f32 = embedded_float_copy / F32_NAME
    made = f32.stat().st_mtime_ns
    assert parity.f32_base(load_settings().embedded_model_path, embedded_float_copy) == f32
    assert f32.stat().st_mtime_ns == made  # found, not written again
    copy = gguf.GGUFReader(str(f32))
    assert [t.name for t in copy.tensors] == [t.name for t in served.tensors]
    assert {t.tensor_type for t in copy.tensors} == {gguf.GGMLQuantizationType.F32}
    vocab = "tokenizer.ggml.tokens"
    assert copy.fields[vocab].contents() == served.fields[vocab].contents()
    assert isinstance(gguf.GGUFReader, type)  # gguf's own reader again, not the shared one
