"""The base model to train on: the served GGUF, dequantised to float32 by transformers once and
cached under CORRAL_HOME, so that the adapter is fit to exactly the weights that are served."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from corral.errors import InvalidRequest

CACHE_DIR = "finetune/bases"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def float_base(gguf_path: Path, home: Path) -> Path:
    """The directory of the float copy of `gguf_path` (model and tokenizer, transformers'
    layout), made on the first call for that file's digest. Blocking and slow the first time
    (tens of seconds): call it from a thread."""
    if not gguf_path.is_file():
        raise InvalidRequest(f"The base model's file is missing: {gguf_path}", code="model_missing")
    target = home / CACHE_DIR / sha256_of(gguf_path)[:16]
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        _dequantise(gguf_path, staging)
        os.replace(staging, target)
    except OSError:
        # Another worker made the same copy first: keep theirs.
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _dequantise(gguf_path: Path, out: Path) -> None:
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
