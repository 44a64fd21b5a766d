"""An eval run's model calls, made through the gateway like any request: entitlement, rate
limits and budget, the privacy guard for partner models, metering and the ledger. The run
calls as the key that created it, and bills each of an item's calls once, however many times
its worker died (`ModelCaller.start_item`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.accounts.records import KeyRecord
from corral.backends.base import ChatMessage, GenerationRequest, GenerationResult, SamplingParams
from corral.errors import BudgetExceeded, Overloaded, RateLimited
from corral.pipeline.auth import Principal
from corral.pipeline.gateway import Gateway, RequestContext

_RETRIES = 5


def principal_json(principal: Principal) -> dict[str, Any]:
    """What a run keeps of its creator: enough to call as that key again in a worker."""
    key = principal.key
    return {
        "kind": principal.kind,
        "key_id": principal.key_id,
        "tenant_id": principal.tenant_id,
        "models": list(key.models) if key and key.models is not None else None,
        "tiers": list(key.tiers) if key and key.tiers is not None else None,
        "rpm": key.rpm if key else None,
        "tpm": key.tpm if key else None,
    }


def principal_of(data: dict[str, Any]) -> Principal:
    key = None
    if data["kind"] == "tenant":
        models, tiers = data.get("models"), data.get("tiers")
        key = KeyRecord(
            data["key_id"],
            data["tenant_id"],
            "",
            data.get("rpm"),
            data.get("tpm"),
            tuple(models) if models is not None else None,
            tuple(tiers) if tiers is not None else None,
            None,
            False,
        )
    return Principal(data["kind"], data["key_id"], data.get("tenant_id"), key)


def sampling_params(data: dict[str, Any]) -> SamplingParams:
    """OpenAI's `sampling_params` of a run; greedy by default, so a run can be repeated."""
    cap = data.get("max_completions_tokens", data.get("max_tokens"))
    return SamplingParams(
        max_tokens=int(cap) if cap is not None else 256,
        temperature=float(data.get("temperature", 0.0)),
        top_p=float(data.get("top_p", 1.0)),
        seed=int(data["seed"]) if data.get("seed") is not None else None,
    )


@dataclass(slots=True)
class ModelCaller:
    gateway: Gateway
    principal: Principal
    model: str
    run_id: str
    answered_by: set[str] = field(default_factory=set)
    _item: int = 0
    _calls: int = 0
    _billed: frozenset[str] = frozenset()

    def start_item(self, index: int, billed: frozenset[str] = frozenset()) -> None:
        """The next calls are item `index`'s. Their request ids, `{run}-{item}-{n}`, are the
        same on every attempt of the run, so the ledger tells which of an item's calls were
        billed before its worker died; those in `billed` are asked again, not billed again."""
        self._item, self._calls, self._billed = index, 0, billed

    async def chat(
        self, messages: Sequence[dict[str, str]], params: SamplingParams
    ) -> GenerationResult:
        turns = tuple(ChatMessage(m["role"], m["content"]) for m in messages)  # type: ignore[arg-type]
        return await self._call(lambda rid: GenerationRequest(rid, params, messages=turns))

    async def score_options(self, context: str, options: Sequence[str]) -> list[float]:
        """Each option's summed log-probability after `context`: one echo call per option; the
        local backend keeps the shared prefix's KV cells, so the context is read once."""
        params = SamplingParams(max_tokens=0, temperature=0.0, logprobs=True)
        scores = []
        for option in options:
            result = await self._call(
                lambda rid, o=option: GenerationRequest(rid, params, prompt=context + o, echo=True)
            )
            scores.append(_continuation_logprob(result, len(context)))
        return scores

    async def judge(self, model: str, messages: Sequence[dict[str, str]], max_tokens: int) -> str:
        """A judge model's greedy answer (the model graders), billed as the run's own calls."""
        turns = tuple(ChatMessage(m["role"], m["content"]) for m in messages)  # type: ignore[arg-type]
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=0)
        result = await self._call(
            lambda rid: GenerationRequest(rid, params, messages=turns), model=model
        )
        return result.text

    async def _call(self, make: Any, model: str | None = None) -> GenerationResult:
        self._calls += 1
        request_id = call_id(self.run_id, self._item, self._calls)
        for attempt in range(_RETRIES + 1):
            # A retry keeps the id: a refused call left no record; one that failed after
            # making tokens is billed, and its retry's record is kept under a derived id.
            bill = request_id not in self._billed
            ctx = RequestContext(request_id, self.principal, bill=bill)
            try:
                target = await self.gateway.resolve(ctx, model or self.model)
                result: GenerationResult = await self.gateway.generate(
                    ctx, target, make(ctx.request_id)
                )
            except BudgetExceeded:
                raise
            except (RateLimited, Overloaded) as exc:
                if attempt == _RETRIES:
                    raise
                await asyncio.sleep(_retry_after(exc, attempt))
                continue
            finally:
                for cleanup in ctx.cleanups:
                    await cleanup()
            backend = ctx.response_headers.get("x-corral-backend")
            if backend and model is None:  # the judges are named in their criteria
                self.answered_by.add(backend)
            return result
        raise AssertionError("unreachable")


def call_id(run_id: str, index: int, n: int) -> str:
    """The request id of item `index`'s `n`th call (from 1): the same on every attempt."""
    return f"{run_id}-{index}-{n}"


CALLS_LOOKED_UP = 256
"""How many of a resumed item's calls are looked up in the ledger (more than any item makes:
one answer, a judge per criterion, an option each for multiple choice)."""


def _retry_after(exc: Exception, attempt: int) -> float:
    headers: dict[str, str] = getattr(exc, "headers", None) or {}
    try:
        return min(30.0, float(headers.get("retry-after", "")))
    except ValueError:
        return min(30.0, 0.5 * 2.0**attempt)


def _continuation_logprob(result: GenerationResult, context_chars: int) -> float:
    """The sum over the tokens that start at or after the context's end (lm-eval's way)."""
    total: float = 0.0
    offset = 0
    for token in result.logprobs or ():
        if offset >= context_chars and token.logprob is not None:
            total += token.logprob
        offset += len(token.token)
    return total
