"""A fine-tuning job's quote when it is created, before it is queued: the training file
tokenised as the job will train on it (the base model's tokenizer and chat template,
pseudonymised first if asked) times the epochs, at `[finetuning] training_price_per_mtok`,
reserved against the tenant's budget (`TrainingBill.hold_quote`). A job that does not fit is
refused with `budget_exceeded` and nothing is queued. Free training (price 0) quotes nothing
and loads no tokenizer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corral.errors import InvalidRequest
from corral.finetune.base import CACHE_DIR, sha256_of
from corral.finetune.billing import TrainingBill
from corral.finetune.data import planned_tokens, training_sequences
from corral.finetune.params import trainable_bases
from corral.metering.ledger import Ledger
from corral.money import to_micros
from corral.settings import Settings
from corral.storage import Database

TOKENIZERS = "finetune/tokenizers"
"""Base models' tokenizers read from their GGUFs, kept by digest until a float copy exists."""
MAX_TOKENS = 2048
"""Examples are cut here, as the job cuts them (`TrainingConfig.max_tokens`)."""

TokenizerLoader = Callable[[str], Any]
"""A base model's name to its transformers tokenizer (blocking)."""


class Tokenizers:
    """Each trainable base's tokenizer, loaded once per process: from the float copy of the
    base if a job made it already, else from the GGUF's own metadata, which is where the float
    copy's tokenizer came from (`corral.finetune.base`): the same tokens either way.
    transformers is imported only here, on the first priced job."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._home = settings.home
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, model: str) -> Any:
        with self._lock:
            if model not in self._loaded:
                self._loaded[model] = self._load(model)
            return self._loaded[model]

    def _load(self, model: str) -> Any:
        from transformers import AutoTokenizer

        gguf = trainable_bases(self._settings).get(model)
        if gguf is None or not gguf.is_file():
            raise InvalidRequest(
                f"The model '{model}' cannot be fine-tuned here.",
                param="model",
                code="model_not_available",
            )
        digest = sha256_of(gguf)[:16]
        for cached in (self._home / CACHE_DIR / digest, self._home / TOKENIZERS / digest):
            if (cached / "tokenizer_config.json").is_file():
                return AutoTokenizer.from_pretrained(str(cached))
        # Read from the GGUF (about 10 s on a busy 2-core machine), then kept as transformers'
        # files (read back in about 1 s by the next process).
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self._home))
        try:
            tokenizer.save_pretrained(str(staging))
            (self._home / TOKENIZERS).mkdir(parents=True, exist_ok=True)
            os.replace(staging, self._home / TOKENIZERS / digest)
        except OSError:  # another process kept it first
            pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return tokenizer


class Quotes:
    def __init__(
        self, bill: TrainingBill, tokenizers: TokenizerLoader, max_tokens: int = MAX_TOKENS
    ) -> None:
        self.bill = bill
        self._tokenizers = tokenizers
        self._max_tokens = max_tokens

    async def hold(
        self, job_id: str, owner: str, model: str, training: Path, epochs: int, pseudonymize: bool
    ) -> dict[str, Any] | None:
        """Reserve the job's quote; what to record with the job (tokens, micro-units, month),
        or None when training is free. `BudgetExceeded` when it does not fit."""
        if self.bill.price == 0:
            return None
        tokens = await asyncio.to_thread(self._count, model, training, epochs, pseudonymize)
        created = dt.datetime.now(dt.UTC)
        micros = await self.bill.hold_quote(job_id, owner, created, tokens)
        return {"tokens": tokens, "micros": micros, "month": self.bill.month(created)}

    def _count(self, model: str, training: Path, epochs: int, pseudonymize: bool) -> int:
        tokenizer = self._tokenizers(model)
        sequences, _ = training_sequences(training, tokenizer, self._max_tokens, pseudonymize)
        return planned_tokens(sequences, epochs)

    async def release(self, job_id: str, owner: str, quote: dict[str, Any] | None) -> None:
        """Give back a quote whose job was not queued after all, or was cancelled unstarted."""
        if quote is not None:
            await self.bill.release(job_id, owner, quote["month"])


def training_quotes(
    settings: Settings, ledger: Ledger, db: Database, tokenizers: TokenizerLoader | None = None
) -> Quotes:
    """The quotes of jobs created here, at the configured training price, held in `ledger`."""
    price = to_micros(settings.finetuning.training_price_per_mtok)
    bill = TrainingBill(ledger, db, price, settings.billing.currency)
    return Quotes(bill, tokenizers or Tokenizers(settings))
