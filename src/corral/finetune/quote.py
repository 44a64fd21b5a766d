"""A fine-tuning job's quote when it is created, before it is queued: the training file
tokenised as the job will train on it (the base model's vocabulary and chat template, read by
llama.cpp from the served GGUF, `corral.finetune.vocab`: transformers and torch stay out of the
server; pseudonymised first if asked) times the epochs, at `[finetuning]
training_price_per_mtok`, reserved against the tenant's budget (`TrainingBill.hold_quote`). A
job that does not fit is refused with `budget_exceeded` and nothing is queued. Free training
(price 0) quotes nothing and loads no tokenizer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corral.finetune.billing import TrainingBill
from corral.finetune.data import planned_tokens, training_sequences
from corral.finetune.vocab import GgufTokenizers
from corral.metering.ledger import Ledger
from corral.money import to_micros
from corral.settings import Settings
from corral.storage import Database

MAX_TOKENS = 2048
"""Examples are cut here, as the job cuts them (`TrainingConfig.max_tokens`)."""

TokenizerLoader = Callable[[str], Any]
"""A base model's name to its tokenizer (blocking): `GgufTokenizers` in the server; a test
may pass transformers' own."""


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
        tokens = await asyncio.to_thread(self.count, model, training, epochs, pseudonymize)
        created = dt.datetime.now(dt.UTC)
        micros = await self.bill.hold_quote(job_id, owner, created, tokens)
        return {"tokens": tokens, "micros": micros, "month": self.bill.month(created)}

    def count(self, model: str, training: Path, epochs: int, pseudonymize: bool) -> int:
        """The tokens the job trains on if it runs to the end (blocking)."""
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
    return Quotes(bill, tokenizers or GgufTokenizers(settings))
