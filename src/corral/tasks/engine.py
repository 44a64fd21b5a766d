"""Running a task on a model: JSON answers that follow a schema, chunks that fit, references.

Every call goes through the gateway as a request of its own (`<request id>.<n>`), so it is
authorised, budgeted, metered and, for partner models, pseudonymised like any other. Local
models decode under the schema's grammar; others are asked for JSON, and an answer that does
not validate gets one repair attempt, after which the task fails rather than return half an
object.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.backends.base import ChatMessage, GenerationRequest, SamplingParams
from corral.backends.token_estimates import high_token_estimate
from corral.errors import ContextLengthExceeded, InvalidModelOutput
from corral.pipeline.gateway import Gateway, RequestContext, Target

Progress = Callable[[int, int], None]
"""Called with (chunks done, chunks in all) as a long input is worked through."""


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """How far a task is: its stage ("read", "topics", "chunks", ...), and within a stage
    that reads chunks, chunk `chunk` of `chunks` done, with that chunk's answer (`partial`)."""

    stage: str
    chunk: int = 0
    chunks: int = 0
    partial: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"object": "task.progress", "stage": self.stage}
        if self.chunks:
            out |= {"chunk": self.chunk, "chunks": self.chunks}
        if self.partial is not None:
            out["partial"] = self.partial
        return out


Listener = Callable[[TaskEvent], None]

OUTPUT_TOKENS = 1024
_PROMPT_OVERHEAD_TOKENS = 400  # instructions, schema hints, the chat template
_PER_LINE_TOKENS = 4  # room per line beyond its text: the newline joining it to the next
SEED = 0
"""Every task call samples with this seed: the same input gets the same answer from a local
model, so an answer can be checked again, and a task that fails on an input fails every time."""
LANGUAGES = {"en": "English", "de": "German"}
_GERMAN = frozenset(
    [
        "und",
        "der",
        "die",
        "das",
        "ist",
        "nicht",
        "ich",
        "wir",
        "ihr",
        "sie",
        "es",
        "ein",
        "eine",
        "mit",
        "auf",
        "für",
        "noch",
        "auch",
        "dann",
        "schon",
        "morgen",
        "heute",
        "aber",
        "oder",
        "wenn",
        "wie",
        "was",
        "wann",
        "wo",
    ]
)
_ENGLISH = frozenset(
    [
        "and",
        "the",
        "is",
        "not",
        "i",
        "we",
        "you",
        "they",
        "it",
        "a",
        "an",
        "with",
        "on",
        "for",
        "still",
        "also",
        "then",
        "already",
        "tomorrow",
        "today",
        "but",
        "or",
        "if",
        "how",
        "what",
        "when",
        "where",
    ]
)


@dataclass(slots=True)
class TaskMeta:
    model: str
    language: str
    chunks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dropped_references: int = 0
    mode: str = "thorough"
    """"fast": rules over the input found the answer, the model only phrased it; "thorough":
    the model read all of the input."""
    prompt_version: str = ""
    fallback: bool = False
    """The model's text failed its check and code wrote it instead (fast mode)."""

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class ModelCaller:
    """Asks one target for JSON on behalf of one task request."""

    gateway: Gateway
    ctx: RequestContext
    target: Target
    meta: TaskMeta
    parallel: int = 4
    progress: Progress | None = None
    listener: Listener | None = None
    _stage: str = "chunks"
    _numbers: Iterable[int] = field(default_factory=lambda: itertools.count(1))

    def stage(self, name: str) -> None:
        """The task enters a stage: listeners hear of it, and chunks read from now on are
        reported under it."""
        self._stage = name
        if self.listener is not None:
            self.listener(TaskEvent(name))

    def input_budget(self, output_tokens: int = OUTPUT_TOKENS) -> int:
        """Tokens of input one call may carry: the smallest context minus answer and overhead."""
        context = min(entry.context_length for entry in self.target.candidates)
        return max(256, context - output_tokens - _PROMPT_OVERHEAD_TOKENS)

    async def ask(
        self,
        system: str,
        user: str,
        schema: dict[str, Any],
        output_tokens: int = OUTPUT_TOKENS,
        decode: dict[str, Any] | None = None,
        repair: bool = True,
    ) -> dict[str, Any]:
        """An answer valid under `schema`. The model is asked for `decode` where given: a
        stricter form of `schema` (bounded ids) that a local model decodes under as a grammar,
        while an answer is still judged by `schema` alone. Without `repair`, an invalid answer
        is an error at once (for a caller that has a fallback, a second call is wasted time)."""
        asked = schema if decode is None else decode
        text = await self._call(system, user, asked, output_tokens)
        answer, problem = _validated(text, schema)
        if answer is not None:
            return answer
        if not repair:
            raise InvalidModelOutput(
                f"Model '{self.target.id}' did not answer in the task's format ({problem})."
            )
        retry = f"{user}\n\nYour last answer was not valid ({problem}). Answer again, JSON only."
        answer, problem = _validated(await self._call(system, retry, asked, output_tokens), schema)
        if answer is None:
            raise InvalidModelOutput(
                f"Model '{self.target.id}' did not answer in the task's format ({problem})."
            )
        return answer

    async def say(self, system: str, user: str, output_tokens: int) -> str:
        """Plain text, cut at its last full sentence: for a short text a small model writes,
        where a JSON string cut off by the token budget would cost a repair call."""
        text = (await self._call(system, user, None, output_tokens)).strip()
        end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
        if text[-1:] not in ".!?" and end > 0:
            text = text[: end + 1]
        return text

    async def ask_each(
        self,
        prompts: Sequence[tuple[str, list[str]]],
        schema: dict[str, Any],
        output_tokens: int = OUTPUT_TOKENS,
        decode: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The map step: one call per (system, lines), a few at a time, reporting progress.

        Chunks are cut by an estimate of their tokens; one that still does not fit the model
        is halved and both halves asked, so no input is ever too long.
        """
        gate = asyncio.Semaphore(self.parallel)
        done = 0

        async def one(system: str, lines: list[str]) -> list[dict[str, Any]]:
            nonlocal done
            answers = await self._fitting(gate, system, lines, schema, decode, output_tokens)
            done += 1
            if self.progress is not None:
                self.progress(done, len(prompts))
            if self.listener is not None:
                partial = answers[0] if len(answers) == 1 else {"answers": answers}
                self.listener(TaskEvent(self._stage, done, len(prompts), partial))
            return answers

        results = await asyncio.gather(*(one(system, lines) for system, lines in prompts))
        return [answer for answers in results for answer in answers]

    async def _fitting(
        self,
        gate: asyncio.Semaphore,
        system: str,
        lines: list[str],
        schema: dict[str, Any],
        decode: dict[str, Any] | None,
        output_tokens: int,
    ) -> list[dict[str, Any]]:
        try:
            async with gate:
                return [await self.ask(system, "\n".join(lines), schema, output_tokens, decode)]
        except ContextLengthExceeded:
            if len(lines) < 2:
                raise
        answers = []
        for part in (lines[: len(lines) // 2], lines[len(lines) // 2 :]):
            answers += await self._fitting(gate, system, part, schema, decode, output_tokens)
        return answers

    async def _call(
        self, system: str, user: str, schema: dict[str, Any] | None, output_tokens: int
    ) -> str:
        number = next(iter(self._numbers))
        ctx = dataclasses.replace(self.ctx, request_id=f"{self.ctx.request_id}.{number}")
        request = GenerationRequest(
            request_id=ctx.request_id,
            params=SamplingParams(
                max_tokens=output_tokens, temperature=0.2, seed=SEED, json_schema=schema
            ),
            messages=(ChatMessage("system", system), ChatMessage("user", user)),
        )
        result = await self.gateway.generate(ctx, self.target, request)
        self.meta.prompt_tokens += result.usage.prompt_tokens
        self.meta.completion_tokens += result.usage.completion_tokens
        return result.text


def _validated(text: str, schema: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    import jsonschema  # loaded by the first task: memory a worker without tasks spares

    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match is None:
        return None, "no JSON object"
    try:
        data = json.loads(match.group(0))
        jsonschema.validate(data, schema)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg}"
    except jsonschema.ValidationError as exc:
        return None, f"schema: {exc.message}"
    return data, ""


def chunks(lines: Sequence[str], budget: int) -> list[list[int]]:
    """Split line indexes into runs whose estimated tokens fit `budget` (a line never splits)."""
    runs: list[list[int]] = [[]]
    used = 0
    for index, line in enumerate(lines):
        cost = high_token_estimate(line) + _PER_LINE_TOKENS
        if runs[-1] and used + cost > budget:
            runs.append([])
            used = 0
        runs[-1].append(index)
        used += cost
    return [run for run in runs if run]


def detect_language(texts: Iterable[str]) -> str:
    words = re.findall(r"[a-zäöüß]+", " ".join(texts).lower())
    german = sum(word in _GERMAN for word in words)
    english = sum(word in _ENGLISH for word in words)
    return "de" if german > english else "en"


def keep_known(
    items: list[dict[str, Any]], field_name: str, known: set[Any]
) -> tuple[list[dict[str, Any]], int]:
    """Drop cited references the input does not have; how many were dropped."""
    dropped = 0
    kept = []
    for item in items:
        refs = item.get(field_name, [])
        valid = [ref for ref in refs if ref in known]
        dropped += len(refs) - len(valid)
        kept.append({**item, field_name: sorted(set(valid), key=list(valid).index)})
    return kept, dropped
