"""The `fine_tuning` job kind: check the files, train a LoRA adapter step by step (an event per
step with its training loss, a checkpoint every few steps), write it as a GGUF LoRA, check that
llama.cpp reproduces the trained model with it (`parity`), and name the fine-tuned model.
torch runs in a thread; the job's coroutine checkpoints between steps and is where
cancellation lands."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from corral.errors import AdapterParityFailed, InvalidRequest
from corral.files.store import FileStore
from corral.finetune.base import float_base
from corral.finetune.billing import TrainingBill
from corral.finetune.data import Sequence, training_sequences
from corral.finetune.models import record
from corral.finetune.params import VALIDATING, hyperparameters_of, model_name, trainable_bases
from corral.finetune.pseudonymise import describe
from corral.finetune.train import ALPHA, RANK, TARGETS, LoraRun, StepResult, thread_budget
from corral.jobs import RUNNING, Entry, Job, JobContext, Progress
from corral.metering.ledger import Ledger, Outcome
from corral.money import to_micros
from corral.settings import Settings
from corral.storage import Database

WORK_DIR = "finetune/jobs"


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    checkpoint_every: int = 10
    """Steps between checkpoints: a resumed job redoes at most this many."""
    max_tokens: int = 2048
    """Examples longer than this are cut."""
    threads: int | None = None
    """At most this many torch threads (and never more than the free cores)."""
    parity: bool = True
    """Check the converted adapter against the trained model before publishing it (llama.cpp
    on an F32 copy of the served GGUF). Off only for a base that has no GGUF (tests' tiny
    one)."""


BaseLoader = Callable[[str], Path]
"""A base model's name to the directory of its float copy (blocking)."""


class FineTuningHandler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        config: TrainingConfig | None = None,
        base_loader: BaseLoader | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        """`ledger`: where jobs are billed (the server's own; else one of the handler's)."""
        self._files = FileStore(db, settings.home, settings.files)
        price = to_micros(settings.finetuning.training_price_per_mtok)
        ledger = ledger or Ledger(db, settings.billing.reservation_timeout_s)
        self._bill = TrainingBill(ledger, db, price, settings.billing.currency)
        self._home = settings.home
        self._settings = settings
        self.config = config or TrainingConfig()
        self._base_loader = base_loader or self._float_base
        self._validation: dict[str, list[Sequence]] = {}
        """Each running job's validation examples, tokenised (none without a validation file)."""

    def _float_base(self, name: str) -> Path:
        gguf = trainable_bases(self._settings).get(name)
        if gguf is None:
            raise InvalidRequest(
                f"The model '{name}' cannot be fine-tuned here.", code="model_not_available"
            )
        return float_base(gguf, self._home)

    async def run(self, job: Job, context: JobContext) -> dict[str, Any]:
        published = (job.checkpoint or {}).get("published")
        if published is not None:  # its worker stopped after publishing: only the bill is left
            await self._bill.settle(job, published["fine_tuned_model"], *_billed(published))
            return dict(published)
        try:
            return await self._prepared_run(job, context)
        except asyncio.CancelledError:
            if context.cancelled:  # the owner's: whatever it trained is settled already
                await self._bill.drop(job)
            raise
        except Exception:  # a failed job is billed nothing, its quote given back
            await self._bill.drop(job)
            raise

    async def _prepared_run(self, job: Job, context: JobContext) -> dict[str, Any]:
        params = job.params
        training = await self._files.content(job.tenant_id, params["training_file"])
        validation = None
        if params.get("validation_file"):
            validation = await self._files.content(job.tenant_id, params["validation_file"])
        if job.status == VALIDATING:
            await context.set_status(RUNNING, "Files validated; fine-tuning job started")
        base_dir = await asyncio.to_thread(self._base_loader, params["model"])
        masked = bool(params.get("pseudonymize_pii"))
        sequences, replaced = await asyncio.to_thread(self._sequences, base_dir, training, masked)
        if replaced is not None and not job.checkpoint:
            await context.event(
                f"Personal data replaced by placeholders before training: {describe(replaced)}",
                {"pii_replaced": replaced},
            )
        hyper = hyperparameters_of(params)
        threads = thread_budget(self.config.threads)
        run = await asyncio.to_thread(LoraRun, base_dir, sequences, hyper, threads)
        if validation is not None:
            self._validation[job.id] = (
                await asyncio.to_thread(self._sequences, base_dir, validation, masked)
            )[0]
        try:
            return await self._billed_run(job, context, run, base_dir)
        finally:
            self._validation.pop(job.id, None)

    async def _billed_run(
        self, job: Job, context: JobContext, run: LoraRun, base_dir: Path
    ) -> dict[str, Any]:
        """Hold the quote, train, publish the model and bill what was trained: all of it, or
        as much as was trained before a cancellation; nothing for a failed job."""
        name = model_name(job.params["model"], job.tenant_id, job.params.get("suffix"), job.id)
        await self._bill.hold(job, run.planned_tokens)
        work = self._home / WORK_DIR / job.id
        counter = [int((job.checkpoint or {}).get("trained_tokens", 0))]
        try:
            state = await self._train(job, context, run, work, counter)
            result = await self._publish(job, run, base_dir, work, counter[0])
            await context.event(
                f"Adapter written: GGUF LoRA, sha256 {result['adapter_sha256']}",
                {"adapter_sha256": result["adapter_sha256"]},
            )
            if self.config.parity:
                result["parity"] = await self._parity(job, context, run, base_dir, work)
            result["quoted_tokens"] = run.planned_tokens
            state = {**state, "published": result}
            await context.checkpoint(
                state, events=[Entry(f"Model {name} published")], write=self._record(job, result)
            )
        except asyncio.CancelledError:
            if context.cancelled:  # the owner's cancel, not a shutdown: bill what was trained
                await self._bill.settle(job, name, counter[0], run.planned_tokens, "cancelled")
            raise
        await self._bill.settle(job, name, counter[0], run.planned_tokens, "completed")
        return result

    @staticmethod
    def _record(job: Job, result: dict[str, Any]) -> Callable[[Session], None]:
        return lambda session: record(session, job.id, job.tenant_id, result)

    async def _train(
        self, job: Job, context: JobContext, run: LoraRun, work: Path, trained: list[int]
    ) -> dict[str, Any]:
        """Every step after the checkpoint's; `trained` counts the tokens trained on, in all.
        Returns the last checkpoint's state."""
        state = dict(job.checkpoint or {})
        if state:
            await asyncio.to_thread(run.load_checkpoint, work / state["file"])
            await context.event(f"Resumed from the checkpoint at step {state['step']}")
        for step in range(int(state.get("step", 0)) + 1, run.total_steps + 1):
            if context.cancelled:
                raise asyncio.CancelledError
            result = await asyncio.to_thread(run.step, step)
            trained[0] += result.tokens
            state = await self._after_step(context, run, work, state, result, trained[0])
            if state.get("step") == step:  # a checkpoint: the quote's reservation lives on
                await self._bill.renew(job)
        return state

    def _sequences(
        self, base_dir: Path, path: Path, pseudonymize: bool
    ) -> tuple[list[Sequence], dict[str, int] | None]:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
        return training_sequences(path, tokenizer, self.config.max_tokens, pseudonymize)

    async def _after_step(
        self,
        context: JobContext,
        run: LoraRun,
        work: Path,
        state: dict[str, Any],
        result: StepResult,
        trained: int,
    ) -> dict[str, Any]:
        step, total = result.step, run.total_steps
        metrics = {"step": step, "train_loss": round(result.loss, 6), "total_steps": total}
        entry = Entry(f"Step {step}/{total}: training loss={result.loss:.4f}", metrics)
        progress = Progress(step, total, {"train_loss": result.loss, "trained_tokens": trained})
        if step % self.config.checkpoint_every and step != total:
            await context.report(progress, [entry])  # one write a step
            return state
        validation = self._validation.get(context.job.id)
        if validation:
            valid_loss = await asyncio.to_thread(run.validation_loss, validation)
            metrics["valid_loss"] = round(valid_loss, 6)
            entry = Entry(f"{entry.message}, validation loss={valid_loss:.4f}", metrics)
        name = f"ckpt-{step}.pt"
        await asyncio.to_thread(run.save_checkpoint, work / name, step)
        checkpoints = [*state.get("checkpoints", []), {**metrics, "created_at": int(time.time())}]
        new = {"step": step, "file": name, "trained_tokens": trained, "checkpoints": checkpoints}
        await context.checkpoint(new, progress, events=[entry])
        if state.get("file") and state["file"] != name:
            (work / state["file"]).unlink(missing_ok=True)
        return new

    async def _parity(
        self, job: Job, context: JobContext, run: LoraRun, base_dir: Path, work: Path
    ) -> dict[str, Any]:
        """Fail the job, with an event saying by how much, if llama.cpp running the GGUF LoRA
        on the F32 base does not give the trained model's log-probs (`corral.finetune.parity`)."""
        from corral.finetune import parity

        gguf = trainable_bases(self._settings).get(job.params["model"])
        if gguf is None:
            raise AdapterParityFailed("The base model's GGUF is no longer served here.")
        f32 = await asyncio.to_thread(parity.f32_base, gguf, base_dir)
        found = await asyncio.to_thread(
            parity.check, run, f32, work / "adapter.gguf", run.sequences
        )
        figures = f"mean |Δ log p| {found.mean_diff:.2e} per token over {found.tokens} tokens"
        if not found.passed:
            message = (
                f"Parity check failed: the converted adapter does not reproduce the trained "
                f"model in llama.cpp ({figures}, max {found.max_diff:.2e}; the limit is "
                f"{parity.TOLERANCE:.0e}). Nothing was published."
            )
            await context.event(message, {"parity": found.as_dict()}, level="error")
            raise AdapterParityFailed(message)
        await context.event(f"Parity check passed: {figures}", {"parity": found.as_dict()})
        return found.as_dict()

    async def _publish(
        self, job: Job, run: LoraRun, base_dir: Path, work: Path, trained: int
    ) -> dict[str, Any]:
        adapter = work / "adapter"
        await asyncio.to_thread(run.save_adapter, adapter)
        gguf = work / "adapter.gguf"
        await asyncio.to_thread(_export, run, base_dir, gguf)
        params = job.params
        adapter_sha256 = hashlib.sha256(gguf.read_bytes()).hexdigest()
        return {
            "fine_tuned_model": model_name(
                params["model"], job.tenant_id, params.get("suffix"), job.id
            ),
            "trained_tokens": trained,
            "adapter_gguf": str(gguf),
            "adapter_sha256": adapter_sha256,
            "lineage": await self._lineage(job, base_dir, adapter_sha256),
        }

    async def _lineage(self, job: Job, base_dir: Path, adapter_sha256: str) -> dict[str, Any]:
        """What the model was made from, for evaluations and audits: the base (its float
        copy's directory is named by the GGUF's digest), the files' digests, the settings."""
        params = job.params
        files = {}
        for role in ("training_file", "validation_file"):
            if params.get(role):
                files[role] = (await self._files.get(job.tenant_id, params[role])).sha256
        return {
            "base_model": params["model"],
            "base_digest": base_dir.name,
            "file_sha256": files,
            "hyperparameters": params["hyperparameters"],
            "seed": params["seed"],
            "adapter_sha256": adapter_sha256,
            "lora": {"r": RANK, "alpha": ALPHA, "targets": list(TARGETS)},
        }


def _billed(published: dict[str, Any]) -> tuple[int, int, Outcome]:
    return int(published["trained_tokens"]), int(published["quoted_tokens"]), "completed"


def _export(run: LoraRun, base_dir: Path, out: Path) -> None:
    from corral.finetune.export import write_gguf_lora

    config = json.loads((base_dir / "config.json").read_text())
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    staging = out.with_suffix(".partial")
    write_gguf_lora(run.adapter_state(), ALPHA, heads, kv_heads, staging)
    shutil.move(staging, out)
