"""LoRA training steps on the float base: deterministic for a seed, one step at a time (the job
handler checkpoints and checks cancellation between steps), resumable from a checkpoint file.

LoRA r=8, alpha=16 on the attention and MLP projections only: SmolLM2 ties its embeddings to
the output head, so neither is ever a target (and the served base stays shared as it is)."""

from __future__ import annotations

import math
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.finetune.data import IGNORE, Sequence, planned_tokens

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
RANK = 8
ALPHA = 16
BASE_LEARNING_RATE = 2e-4
"""Scaled by the job's `learning_rate_multiplier`."""


@dataclass(frozen=True, slots=True)
class Hyperparameters:
    n_epochs: int = 3
    batch_size: int = 1
    learning_rate_multiplier: float = 1.0
    seed: int = 0

    @property
    def learning_rate(self) -> float:
        return BASE_LEARNING_RATE * self.learning_rate_multiplier


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int
    loss: float
    tokens: int
    """Tokens the step ran through the model (context and targets): what `trained_tokens`
    counts, as OpenAI's does."""


def thread_budget(limit: int | None = None) -> int:
    """Threads for training: no more than the cores nobody else is using (OpenMP threads that
    wait for a busy core make every step many times slower), at least one."""
    cores = os.cpu_count() or 1
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    free = max(1, cores - busy)
    return max(1, min(free, limit or cores))


class LoraRun:
    """A LoRA adapter being trained on `sequences`. Blocking (torch): call from a thread."""

    def __init__(
        self, base_dir: Path, sequences: list[Sequence], hyper: Hyperparameters, threads: int
    ) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(threads)
        self.threads = threads
        torch.manual_seed(hyper.seed)
        self._torch = torch
        self.hyper = hyper
        self.sequences = sequences
        base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
        config = LoraConfig(
            r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=list(TARGETS), bias="none"
        )
        with warnings.catch_warnings():
            # peft calls a transformers method that transformers 5 deprecates; not ours to fix.
            warnings.simplefilter("ignore", FutureWarning)
            self.model = get_peft_model(base, config)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=hyper.learning_rate, weight_decay=0.0)
        self.steps_per_epoch = math.ceil(len(sequences) / hyper.batch_size)
        self.total_steps = self.steps_per_epoch * hyper.n_epochs
        self.planned_tokens = planned_tokens(sequences, hyper.n_epochs)
        """What the whole run trains on (its steps' tokens, all epochs): the job's quote."""

    def batch(self, step: int) -> list[Sequence]:
        """The examples of step `step` (1-based): each epoch in its own seeded order, so a
        resumed run sees the same batches as an uninterrupted one."""
        epoch, index = divmod(step - 1, self.steps_per_epoch)
        order = list(range(len(self.sequences)))
        random.Random(self.hyper.seed * 1_000_003 + epoch).shuffle(order)
        size = self.hyper.batch_size
        return [self.sequences[i] for i in order[index * size : (index + 1) * size]]

    def step(self, step: int) -> StepResult:
        torch = self._torch
        batch = self.batch(step)
        width = max(len(s.input_ids) for s in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        for row, sequence in enumerate(batch):
            n = len(sequence.input_ids)
            ids[row, :n] = torch.tensor(sequence.input_ids)
            mask[row, :n] = 1
            labels[row, :n] = torch.tensor(sequence.labels)
        tokens = int(mask.sum())
        self.optimizer.zero_grad(set_to_none=True)
        if int((labels[:, 1:] != IGNORE).sum()) == 0:
            return StepResult(step, 0.0, tokens)
        loss = self.model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        self.optimizer.step()
        return StepResult(step, float(loss.detach()), tokens)

    def validation_loss(self, sequences: list[Sequence]) -> float:
        """The mean loss per target token over `sequences`, without training on them."""
        torch = self._torch
        total, count = 0.0, 0
        self.model.eval()
        try:
            with torch.no_grad():
                for sequence in sequences:
                    targets = sum(1 for label in sequence.labels[1:] if label != IGNORE)
                    if targets == 0:
                        continue
                    ids = torch.tensor([sequence.input_ids])
                    labels = torch.tensor([sequence.labels])
                    loss = self.model(input_ids=ids, labels=labels).loss
                    total += float(loss) * targets
                    count += targets
        finally:
            self.model.train()
        return total / count if count else 0.0

    def next_token_logprobs(self, ids: list[int]) -> Any:
        """The trained model's log-prob of each next token of `ids` (a numpy array, float64)."""
        torch = self._torch
        self.model.eval()
        try:
            with torch.no_grad():
                logits = self.model(input_ids=torch.tensor([ids])).logits[0].double()
        finally:
            self.model.train()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(ids[1:]).unsqueeze(1)
        return logprobs[:-1].gather(1, targets).squeeze(1).numpy()

    def adapter_state(self) -> dict[str, Any]:
        from peft import get_peft_model_state_dict

        return dict(get_peft_model_state_dict(self.model))

    def save_checkpoint(self, path: Path, step: int) -> None:
        """Adapter, optimizer and step in one file, written whole or not at all."""
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(".partial")
        state = {
            "step": step,
            "adapter": self.adapter_state(),
            "optimizer": self.optimizer.state_dict(),
        }
        self._torch.save(state, staging)
        os.replace(staging, path)

    def load_checkpoint(self, path: Path) -> int:
        """Restore a checkpoint; returns its step."""
        from peft import set_peft_model_state_dict

        state = self._torch.load(path, weights_only=True)
        set_peft_model_state_dict(self.model, state["adapter"])
        self.optimizer.load_state_dict(state["optimizer"])
        return int(state["step"])

    def save_adapter(self, directory: Path) -> None:
        """The adapter in PEFT's own layout (adapter_config.json, adapter_model.safetensors)."""
        self.model.save_pretrained(str(directory))
