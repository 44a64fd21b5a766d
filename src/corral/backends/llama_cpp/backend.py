"""`LlamaCppBackend`: the `Backend` protocol for a local GGUF model.

Inference runs in one dedicated thread per instance, so the event loop never blocks on it.
Prompts are templated and tokenized before a request queues for an instance, so a prompt that
cannot fit is refused at once and never waits behind others.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import llama_cpp

from corral.backends.base import (
    BackendHealth,
    EmbeddingRequest,
    EmbeddingResult,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
    TextDelta,
    Usage,
)
from corral.backends.llama_cpp import embedding, engine, loader, relay, scoring, tools
from corral.backends.llama_cpp.abort import AbortSwitch
from corral.backends.llama_cpp.adapters import AdapterSwitch
from corral.backends.llama_cpp.grammar import GrammarCompiler
from corral.backends.llama_cpp.lanes import Lane, Lanes
from corral.backends.llama_cpp.pool import InstancePool
from corral.backends.llama_cpp.preparation import Prepared, Preparer
from corral.backends.llama_cpp.sequence import Sequence
from corral.backends.llama_cpp.stats import EngineStats
from corral.backends.schema_limits import SchemaLimits
from corral.cancellation import Cancellation
from corral.errors import BackendFailed, CorralError, InvalidRequest
from corral.settings import LocalModelConfig

T = TypeVar("T")

BATCHED_OWN_CONTEXT = 256
"""Cells of a batched instance's own context, which decodes nothing."""


@dataclass(slots=True)
class _Instance:
    llama: llama_cpp.Llama
    thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="llama")
    )
    scores: scoring.PromptScores = field(default_factory=scoring.PromptScores)
    adapters: AdapterSwitch | None = None
    abort: AbortSwitch = field(init=False)
    """Stops a prompt's decode on the instance's context half-way on a cancel or at close."""

    def __post_init__(self) -> None:
        self.abort = AbortSwitch(self.llama.ctx)

    def use_adapter(self, adapter: Path | None, limit: int = 8) -> None:
        """Run the next request with `adapter` (None: the base); a switch forgets the cached
        prefix and scores, computed under the other adapter."""
        if self.adapters is None:
            if adapter is None:
                return
            self.adapters = AdapterSwitch(self.llama, limit)
        if self.adapters.use(adapter):
            self.scores = scoring.PromptScores()


class LlamaCppBackend:
    """Serves one GGUF model from `instances` in-process llama.cpp contexts, or with
    `slots` > 1 from one context that batches that many sequences (`scheduler`)."""

    def __init__(self, config: LocalModelConfig, schema_limits: SchemaLimits | None = None) -> None:
        self.config = config
        # Until an instance is loaded, a vocab-only load tokenizes; then the instance's own model
        # does (tokenizing reads only the vocabulary, so it is safe beside a running generation)
        # and the duplicate vocabulary is released.
        self._vocab = loader.open_vocab(config.path)
        self._vocab_only: llama_cpp.Llama | None = self._vocab
        self.info = loader.read_info(self._vocab)
        self.context_length = config.context_length or self.info.context_length or 2048
        template = self.info.chat_template
        formatter = loader.chat_formatter(self._vocab, template) if template else None
        grammars = GrammarCompiler(schema_limits or SchemaLimits(), lambda: self._vocab)
        self._preparer = Preparer(
            config.name, self.context_length, lambda: self._vocab, formatter, grammars
        )
        self.engine_stats = EngineStats()
        """For the metrics endpoint (`observability.metrics`)."""
        self._lanes = Lanes(
            self._open_generator,
            config.slots,
            self.engine_stats,
            config.kv_cells,
            config.prompt_tokens_per_step,
            self.context_length,
            config.max_adapters,
        )
        batched = config.slots > 1
        self._generators: InstancePool[_Instance | Lane] = InstancePool(
            config.name,
            self._lanes.load if batched else self._load_generator,
            config.slots if batched else config.instances,
            config.queue_size,
            config.max_per_tenant,
        )
        self._embedders: InstancePool[_Instance] = InstancePool(
            config.name, self._load_embedder, 1, config.queue_size
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._generators.fill()

    async def close(self) -> None:
        await asyncio.to_thread(self._lanes.close)
        for pool in (self._generators, self._embedders):
            for instance in pool.instances:
                if isinstance(instance, _Instance):
                    instance.abort.close()
                    instance.thread.shutdown(wait=True, cancel_futures=True)
                    instance.llama.close()

    def _failed(self, exc: Exception) -> BackendFailed:
        # llama.cpp's own words (a path, an internal state) are for the operator's log.
        return BackendFailed(
            f"Local model '{self.config.name}' failed.", detail=f"{type(exc).__name__}: {exc}"
        )

    def health(self) -> BackendHealth:
        loaded = self._generators.loaded
        if self.config.slots > 1:
            loaded = min(loaded, 1)  # the pool counts lanes; they share one instance
        detail = f"{loaded} instance(s) loaded" if loaded else "loads on first use"
        return BackendHealth(True, detail, self._generators.waiting + self._embedders.waiting)

    # -- generation --------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        prepared = await asyncio.to_thread(self._preparer.prepare, request)
        return await self._answer(request, prepared)

    async def _answer(self, request: GenerationRequest, prepared: Prepared) -> GenerationResult:
        """The whole answer; a tool request's JSON read back as a call or text."""
        result = await self._generate(request, prepared)
        if prepared.tool_plan is None:
            return result
        answer = tools.read(result.text, result.finish_reason, prepared.tool_plan)
        return GenerationResult(
            answer.text, answer.finish_reason, result.usage, tool_calls=answer.tool_calls
        )

    async def _acquire(self, request: GenerationRequest) -> _Instance | Lane:
        queued = time.monotonic()
        instance = await self._generators.acquire(request.party)
        self.engine_stats.waited(time.monotonic() - queued)
        return instance

    async def _generate(self, request: GenerationRequest, prepared: Prepared) -> GenerationResult:
        instance = await self._acquire(request)
        pieces: list[TextDelta] = []
        cancel = request.cancelled
        job = self._submit(instance, request, prepared, cancel, pieces.append)
        try:
            outcome = await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            cancel.set()
            raise
        logprobs = [lp for piece in pieces for lp in piece.logprobs]
        return GenerationResult(
            text="".join(piece.text for piece in pieces),
            finish_reason="stop" if outcome.reason == "stop" else "length",
            usage=outcome.usage,
            logprobs=logprobs if request.params.logprobs else None,
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        prepared = await asyncio.to_thread(self._preparer.prepare, request)
        if prepared.tool_plan is not None:
            # Whether the answer is a call or text is known only once its JSON is complete.
            return relay.replay(await self._answer(request, prepared))
        instance = await self._acquire(request)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[StreamEvent | BaseException] = asyncio.Queue()
        cancel = request.cancelled

        def emit(delta: TextDelta) -> None:
            loop.call_soon_threadsafe(events.put_nowait, delta)

        # Started here, not on first iteration: the instance is released when the thread
        # finishes even if nobody ever reads the stream.
        job = asyncio.wrap_future(self._submit(instance, request, prepared, cancel, emit))
        job.add_done_callback(lambda done: events.put_nowait(relay.final_event(done)))
        return relay.relay(events, cancel)

    def _submit(
        self,
        instance: _Instance | Lane,
        request: GenerationRequest,
        prepared: Prepared,
        cancel: Cancellation,
        emit: Callable[[TextDelta], None],
    ) -> Any:
        future: Future[engine.GenerationOutcome]
        if isinstance(instance, _Instance):
            future = instance.thread.submit(self._job(instance, request, prepared, cancel, emit))
        else:
            sequence = Sequence(
                prepared.tokens,
                request.params,
                prepared.grammar,
                cancel,
                emit,
                request.meter,
                end_logprob=request.messages is None,
                adapter=request.adapter,
            )
            if request.echo or request.params.max_tokens == 0:
                # Scoring runs alone, between two steps; the text after it is batched.
                score = functools.partial(self._scored, instance, request, prepared, emit)
                future = instance.run(self._guarded(score), sequence, self._failed)
            else:
                future = instance.submit(sequence, self._failed)
        loop = asyncio.get_running_loop()
        future.add_done_callback(
            lambda _: loop.call_soon_threadsafe(self._generators.release, instance)
        )
        return future

    def _job(
        self,
        instance: _Instance,
        request: GenerationRequest,
        prepared: Prepared,
        cancel: Cancellation,
        emit: Callable[[TextDelta], None],
    ) -> Callable[[], engine.GenerationOutcome]:
        def run() -> engine.GenerationOutcome:
            scored = self._scored(instance, request, prepared, emit)
            if scored is not None:
                return scored
            return self._run_alone(instance, request, prepared, cancel, emit)

        return self._guarded(run)

    def _guarded(self, job: Callable[[], T]) -> Callable[[], T]:
        """`job`, with llama.cpp's failures turned into `BackendFailed`."""

        def run() -> T:
            try:
                return job()
            except CorralError:  # meant for the client as it is (a full KV cache)
                raise
            except Exception as exc:  # llama.cpp failures surface as several builtin types
                raise self._failed(exc) from exc

        return run

    def _scored(
        self,
        instance: _Instance | Lane,
        request: GenerationRequest,
        prepared: Prepared,
        emit: Callable[[TextDelta], None],
    ) -> engine.GenerationOutcome | None:
        """Emit the prompt's logprobs if asked (`echo`), computed with the request's adapter;
        the outcome when the request ends there (cancelled meanwhile, or nothing to generate),
        else None."""
        instance.use_adapter(request.adapter, self.config.max_adapters)
        tokens = prepared.tokens
        if request.echo and not _score(instance, request, tokens, emit):
            return engine.GenerationOutcome("cancelled", Usage(len(tokens), 0))
        if request.params.max_tokens == 0:  # scoring only: nothing to generate
            request.meter.prompt_tokens = len(tokens)
            return engine.GenerationOutcome("length", Usage(len(tokens), 0))
        return None

    def _run_alone(
        self,
        instance: _Instance,
        request: GenerationRequest,
        prepared: Prepared,
        cancel: Cancellation,
        emit: Callable[[TextDelta], None],
    ) -> engine.GenerationOutcome:
        """One sequence on an instance of its own (`slots` = 1)."""
        self.engine_stats.started()
        try:
            outcome = engine.generate(
                instance.llama,
                prepared.tokens,
                request.params,
                prepared.grammar,
                cancel,
                emit,
                request.meter,
                end_logprob=request.messages is None,
                abort=instance.abort,
            )
        finally:
            self.engine_stats.ended()
        self.engine_stats.hit(outcome.usage.cached_tokens)
        return outcome

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        prepared = await asyncio.to_thread(self._preparer.prepare, request)
        return len(prepared.tokens)

    # -- embeddings --------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        if not self.config.embeddings:
            raise InvalidRequest(
                f"Model '{self.config.name}' does not serve embeddings.", param="model"
            )
        counts = await asyncio.to_thread(
            embedding.count_tokens, self._vocab, request.inputs, self.config
        )
        instance = await self._embedders.acquire(request.party)
        job = instance.thread.submit(embedding.embed_each, instance.llama, request, counts)
        loop = asyncio.get_running_loop()
        # The instance is free when its thread is, not when the caller stops waiting: a
        # request queued behind an abandoned one would otherwise wait outside the queue bound.
        job.add_done_callback(
            lambda _: loop.call_soon_threadsafe(self._embedders.release, instance)
        )
        done = asyncio.wrap_future(job)
        try:
            vectors = await asyncio.shield(done)  # a cancel must not detach us from the thread
        except asyncio.CancelledError:
            request.cancelled.set()
            # The thread stops after the input in progress; then the meter holds exactly what
            # was embedded, for the bill.
            await asyncio.wait([done])
            raise
        except Exception as exc:  # llama.cpp failures surface as several builtin types
            raise self._failed(exc) from exc
        return EmbeddingResult(vectors=vectors, prompt_tokens=sum(counts))

    # -- loading -------------------------------------------------------------------------------

    async def _load_generator(self) -> _Instance | Lane:
        return _Instance(await self._open_generator())

    async def _open_generator(self) -> llama_cpp.Llama:
        # Batched, the scheduler's context does all the decoding: the instance's own needs no
        # room (at 8k cells it held a third of an idle server's memory).
        n_ctx = self.context_length if self.config.slots == 1 else BATCHED_OWN_CONTEXT
        llama = await asyncio.to_thread(loader.open_generator, self.config, n_ctx)
        if self._vocab_only is not None:
            self._vocab, self._vocab_only = llama, None
        return llama

    async def _load_embedder(self) -> _Instance:
        return _Instance(await asyncio.to_thread(loader.open_embedder, self.config))


def _score(
    instance: _Instance | Lane,
    request: GenerationRequest,
    tokens: list[int],
    emit: Callable[[TextDelta], None],
) -> bool:
    """Emit the prompt's logprobs ahead of the generated ones; False if cancelled meanwhile."""
    top_n = request.params.top_logprobs
    target = instance.scheduler.scoring_target() if isinstance(instance, Lane) else None
    entries = scoring.score_prompt(
        instance.llama, tokens, top_n, instance.scores, request.cancelled, instance.abort, target
    )
    if entries is None:
        return False
    emit(TextDelta("", entries))
    return True
