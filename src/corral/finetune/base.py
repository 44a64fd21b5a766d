"""The base model to train on: the served GGUF, dequantised to float32 once and cached under
CORRAL_HOME, so that the adapter is fit to exactly the weights that are served.

The first job on a base makes both copies it needs in one go, from one reading of the GGUF:
the float copy in transformers' layout that it trains on, and the F32 GGUF (every tensor
dequantised, the metadata as is) that the parity check runs llama.cpp on
(`corral.finetune.parity`). Dequantising is the cheap part; parsing the GGUF is not (see
`_gguf_read_once`)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corral.errors import InvalidRequest

CACHE_DIR = "finetune/bases"
F32_NAME = "base-f32.gguf"
"""The F32 GGUF's name in the float copy's directory."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def float_base(gguf_path: Path, home: Path) -> Path:
    """The directory of the float copy of `gguf_path` (model and tokenizer, transformers'
    layout, and the F32 GGUF `F32_NAME`), made on the first call for that file's digest.
    Blocking and slow the first time (tens of seconds): call it from a thread."""
    if not gguf_path.is_file():
        raise InvalidRequest(f"The base model's file is missing: {gguf_path}", code="model_missing")
    target = home / CACHE_DIR / sha256_of(gguf_path)[:16]
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        with _gguf_read_once():
            _float_copy(gguf_path, staging)
            write_f32(gguf_path, staging / F32_NAME)
        os.replace(staging, target)
    except OSError:
        # Another worker made the same copy first: keep theirs.
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def write_f32(source: Path, out: Path) -> None:
    """`source` with every tensor dequantised to float32 and its metadata as it is (the file
    type says F32). Blocking, seconds."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(str(source))
    arch = str(reader.fields["general.architecture"].contents())
    writer = gguf.GGUFWriter(str(out), arch=arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        if field.name == "general.file_type":
            writer.add_file_type(gguf.LlamaFileType.ALL_F32)
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    for tensor in reader.tensors:
        array = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        writer.add_tensor(tensor.name, np.ascontiguousarray(array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@contextlib.contextmanager
def _gguf_read_once() -> Iterator[None]:
    """transformers reads a GGUF three times (config, tokenizer, weights), each time with a new
    `gguf.GGUFReader` that parses every field, the vocabulary token by token (seconds each),
    and builds gguf's tensor name map anew for each of the model's ~400 modules (seconds in
    all). Meanwhile, and for the F32 writer, one reader per file and one map per architecture
    and depth: both are read-only. Measured on SmolLM2-135M (2 cores, load 6-9): the float and
    F32 copies took 22.9 CPU-s (67 s) before, 11.1 CPU-s (26 s) after, the files bit for bit the
    same. transformers imports both names from `gguf` at each call, so replacing the module's
    attributes reaches it; they are put back after."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}

    def shared_reader(path: Any, mode: str = "r") -> Any:
        key = (os.path.realpath(path), mode)
        if key not in readers:
            readers[key] = reader(path, mode)
        return readers[key]

    gguf.GGUFReader = shared_reader
    gguf.get_tensor_name_map = functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map


def _float_copy(gguf_path: Path, out: Path) -> None:
    """transformers' model and tokenizer from `gguf_path` (dequantised, llama.cpp's row
    permutation of q and k undone), saved in `out`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name)
    # The GGUF marker makes save_pretrained refuse (and a reload dequantise again): the weights
    # are plain float32 now.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
