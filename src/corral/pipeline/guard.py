"""The privacy guard step: what a partner model receives, and what comes back from it.

A partner (`tier = "partner"`) is a third party. Per the tenant's data policy: `local_only`
keeps the tenant's requests off partners altogether (routes skip them; asking for one directly
is a 403); `pseudonymize` replaces personal data in everything sent by typed placeholders
(`[PERSON_1]`), one mapping per backend call, and puts the values back into the answer,
streamed or not; `pseudonymize_strict` does so with the strict scan (`privacy.request_scan`);
`allow` sends the request as it is. The step sits between admission and the backend, for
each call: a task that makes many calls (chunks, merges, repairs) masks each one on its own.
Every partner call is written to the audit log with the counts of what was replaced, in the
transaction of the request's usage record (`privacy.audit_sql`). The
operator's own upstreams (`open`, `premium`, `private` tiers) are inside the trust boundary
and never guarded.

The scan runs in a worker thread (the event loop keeps serving) within `privacy.scan_timeout_s`
on at most `privacy.scan_max_chars` characters; a scan that cannot finish refuses the call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from corral.backends.base import (
    Backend,
    BackendHealth,
    ChatMessage,
    EmbeddingRequest,
    EmbeddingResult,
    Finished,
    GenerationRequest,
    GenerationResult,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
)
from corral.catalog.catalog import ModelEntry, with_backend
from corral.errors import PayloadTooLarge, PermissionDenied, PrivacyCheckTimeout
from corral.privacy import request_scan
from corral.privacy.audit import PartnerCall
from corral.privacy.audit_sql import AuditRow, audit_row
from corral.privacy.detect import DetectionTimeout, Detector
from corral.privacy.pseudonymize import Masked, StreamRestorer, replace_spans
from corral.settings import Policy, PrivacyConfig

MASKING_POLICIES = frozenset({"pseudonymize", "pseudonymize_strict"})
INLINE_SCAN_CHARS = 300
"""Requests up to this many characters are scanned on the event loop (a short chat message
scans in less time than a hop to a worker thread costs); longer ones in a worker thread, so
the loop keeps serving. The scan's cost grows with the characters scanned; the figures are in
bench/results/design_figures.md (`bench/guard_overhead.py`)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Whose request it is, as the guard and the audit log need to know."""

    request_id: str
    tenant_id: str | None
    key_id: str
    policy: Policy
    retention_hours: int | None = None


def forbidden_partner(model: ModelEntry) -> PermissionDenied:
    return PermissionDenied(
        f"'{model.id}' is a partner model (a third party); your organisation's data policy "
        "(local_only) keeps your requests on this platform's own models.",
        param="model",
        code="data_policy_forbids_partner",
    )


def _scan_timeout(timeout: float) -> PrivacyCheckTimeout:
    return PrivacyCheckTimeout(
        f"The privacy check of this request did not finish within {timeout:g} s, so it "
        "was not sent to the partner model. Retry, or send less text.",
        headers={"Retry-After": "1"},
    )


class Scanner:
    """Masks a request's texts off the event loop, within the configured size and time."""

    def __init__(self, detector: Detector, config: PrivacyConfig) -> None:
        self._detector = detector
        self._config = config

    async def mask(self, texts: list[str], param: str, strict: bool = False) -> Masked:
        size = sum(len(text) for text in texts)
        if size > self._config.scan_max_chars:
            raise PayloadTooLarge(
                f"This request to a partner model has {size:,} characters of text; the privacy "
                f"guard checks at most {self._config.scan_max_chars:,} "
                "(privacy.scan_max_chars). Send less text, or use a model of this platform.",
                param=param,
                code="privacy_scan_too_large",
            )
        timeout = self._config.scan_timeout_s
        if size <= INLINE_SCAN_CHARS:  # short: the hop to a thread would cost as much
            try:
                return self._mask(texts, strict, time.monotonic() + timeout)
            except DetectionTimeout:
                raise _scan_timeout(timeout) from None
        work = asyncio.to_thread(self._mask, texts, strict, time.monotonic() + timeout)
        try:  # the thread stops itself at the deadline; wait_for bounds a thread that queued
            return await asyncio.wait_for(work, timeout)
        except (DetectionTimeout, TimeoutError):
            raise _scan_timeout(timeout) from None

    def _mask(self, texts: list[str], strict: bool, deadline: float) -> Masked:
        found = request_scan.detect(self._detector, texts, strict=strict, deadline=deadline)
        return replace_spans(texts, found)


class PrivacyGuard:
    """Masks each call to a partner on its own: `mask` gives what to send and the `Restorer`
    that brings the answer back and makes the call's audit row. Nothing is kept between two
    calls of one request (a task makes many: chunks, merges, repairs), so each call carries
    its own text and mapping."""

    def __init__(self, detector: Detector, config: PrivacyConfig | None = None) -> None:
        self._scanner = Scanner(detector, config or PrivacyConfig())

    def protect(self, entry: ModelEntry, caller: Caller) -> ModelEntry:
        """The entry as this request must see it: partners behind the guard."""
        if entry.tier != "partner":
            return entry
        if caller.policy == "local_only":
            raise forbidden_partner(entry)
        return with_backend(entry, GuardedBackend(entry, self, caller))

    async def mask(
        self, request: GenerationRequest, caller: Caller, model: ModelEntry
    ) -> tuple[GenerationRequest, Restorer]:
        """What one call to the partner `model` sends, and how its answer comes back."""
        sent, masked = await self.scan(request, caller)
        return sent, self.restorer(sent, masked, caller, model)

    async def scan(
        self, request: GenerationRequest, caller: Caller
    ) -> tuple[GenerationRequest, Masked | None]:
        if caller.policy not in MASKING_POLICIES:
            return request, None
        strict = caller.policy == "pseudonymize_strict"
        param = "messages" if request.messages is not None else "prompt"
        masked = await self._scanner.mask(_texts(request), param, strict)
        return _masked_request(request, masked), masked

    def restorer(
        self, sent: GenerationRequest, masked: Masked | None, caller: Caller, model: ModelEntry
    ) -> Restorer:
        return Restorer(caller, model, masked, lambda: _transcript(sent))

    async def mask_inputs(
        self, request: EmbeddingRequest, caller: Caller, model: ModelEntry
    ) -> tuple[EmbeddingRequest, Restorer]:
        masked = None
        if caller.policy in MASKING_POLICIES:
            strict = caller.policy == "pseudonymize_strict"
            masked = await self._scanner.mask(request.inputs, "input", strict)
            request = dataclasses.replace(request, inputs=list(masked.texts))
        inputs = request.inputs
        return request, Restorer(caller, model, masked, lambda: "\n".join(inputs))


class Restorer:
    """One partner call's way back: its mapping restores the answer, whole or streamed; its
    audit row goes with the request to its settlement (`audit_sql`)."""

    def __init__(
        self,
        caller: Caller,
        model: ModelEntry,
        masked: Masked | None,
        transcript: Callable[[], str],
    ) -> None:
        self._caller = caller
        self._model = model
        self.masked = masked
        self._transcript = transcript
        self._row: AuditRow | None = None

    def audit_into(self, rows: list[AuditRow]) -> None:
        """Add the call's audit row as it is sent: data left the machine whatever comes back."""
        caller, model = self._caller, self._model
        keep = bool(caller.retention_hours)
        call = PartnerCall(
            caller.request_id,
            caller.tenant_id,
            caller.key_id,
            model.id,
            model.kind,
            caller.policy,
            self.masked.counts if self.masked is not None else {},
            self._transcript() if keep else "",
        )
        self._row = audit_row(call, caller.retention_hours)
        rows.append(self._row)

    def received(self, text: str) -> None:
        """What came back, for the tenants who keep bodies (restored values are not kept)."""
        if self._row is not None and self._row["received"] is not None:
            self._row["received"] = text

    def result(self, result: GenerationResult) -> GenerationResult:
        self.received(result.text)
        return _restore_result(result, self.masked)

    def stream(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """The answer's events restored. With nothing masked and no body kept there is nothing
        to do on the way back: the events pass as they are, without a generator of their own
        around each (its cost came to a tenth of a streamed request's CPU, bench/gateway_cpu.py).
        """
        mapping = self.masked.mapping if self.masked is not None else {}
        keeps_body = self._row is not None and self._row["received"] is not None
        if not mapping and not keeps_body:
            return events
        return self._restored(events, mapping)

    async def _restored(
        self, events: AsyncIterator[StreamEvent], mapping: dict[str, str]
    ) -> AsyncIterator[StreamEvent]:
        text, calls = StreamRestorer(mapping), dict[int, StreamRestorer]()
        received: list[str] = []
        async for event in events:
            if isinstance(event, TextDelta):
                received.append(event.text)
                event = dataclasses.replace(event, text=text.feed(event.text))
            elif isinstance(event, ToolCallDelta):
                restorer = calls.setdefault(event.index, StreamRestorer(mapping))
                event = dataclasses.replace(event, arguments=restorer.feed(event.arguments))
            elif isinstance(event, Finished):
                for index, restorer in calls.items():
                    rest = restorer.flush()
                    if rest:
                        yield ToolCallDelta(index, arguments=rest)
                rest = text.flush()
                if rest:
                    yield TextDelta(rest)
                self.received("".join(received))
            yield event


class GuardedBackend:
    """A partner backend as one request sees it: every call is masked, sent, restored and
    audited on its own (see `PrivacyGuard.mask`)."""

    def __init__(self, entry: ModelEntry, guard: PrivacyGuard, caller: Caller) -> None:
        self._entry = entry
        self._inner: Backend = entry.backend
        self._guard = guard
        self._caller = caller
        self._last: tuple[GenerationRequest, GenerationRequest, Masked | None] | None = None

    async def _scan(self, request: GenerationRequest) -> tuple[GenerationRequest, Masked | None]:
        # Admission counts a call's tokens as sent, then the call is made with the same request
        # object: its scan is reused, keyed by that object (never by "the request seen first").
        last = self._last
        if last is not None and last[0] is request:
            return last[1], last[2]
        sent, masked = await self._guard.scan(request, self._caller)
        self._last = (request, sent, masked)
        return sent, masked

    async def _mask(self, request: GenerationRequest) -> tuple[GenerationRequest, Restorer]:
        sent, masked = await self._scan(request)
        return sent, self._guard.restorer(sent, masked, self._caller, self._entry)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        sent, restorer = await self._mask(request)
        restorer.audit_into(request.audit)
        return restorer.result(await self._inner.generate(sent))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        sent, restorer = await self._mask(request)
        restorer.audit_into(request.audit)
        return restorer.stream(await self._inner.stream(sent))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        sent, restorer = await self._guard.mask_inputs(request, self._caller, self._entry)
        restorer.audit_into(request.audit)
        return await self._inner.embed(sent)

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        # Placeholders may be longer than the values they stand for: counted as sent.
        sent, _ = await self._scan(request)
        return await self._inner.count_prompt_tokens(sent)

    def health(self) -> BackendHealth:
        return self._inner.health()

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()


def _texts(request: GenerationRequest) -> list[str]:
    """Every text the partner would see, in the order `_masked_request` puts them back."""
    messages = request.messages or ()
    texts = [m.content for m in messages]
    texts += [c.arguments for m in messages for c in m.tool_calls]
    if request.prompt is not None:
        texts.append(request.prompt)
    return texts


def _masked_request(request: GenerationRequest, masked: Masked) -> GenerationRequest:
    """The request with its texts (`_texts`) masked, one mapping for all of them."""
    messages = request.messages or ()
    if not masked.mapping:  # nothing personal found: the request goes as it is
        return request
    out = iter(masked.texts)
    new_messages = tuple(dataclasses.replace(m, content=next(out)) for m in messages)
    new_messages = tuple(
        dataclasses.replace(
            m, tool_calls=tuple(dataclasses.replace(c, arguments=next(out)) for c in m.tool_calls)
        )
        for m in new_messages
    )
    prompt = next(out) if request.prompt is not None else None
    return dataclasses.replace(
        request, messages=new_messages if request.messages is not None else None, prompt=prompt
    )


def _restore_result(result: GenerationResult, masked: Masked | None) -> GenerationResult:
    if masked is None or not masked.mapping:
        return result
    calls = [ToolCall(c.id, c.name, masked.restore(c.arguments)) for c in result.tool_calls or []]
    return dataclasses.replace(
        result, text=masked.restore(result.text), tool_calls=calls or result.tool_calls
    )


def _transcript(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return json.dumps([_message_json(m) for m in request.messages or ()], ensure_ascii=False)


def _message_json(message: ChatMessage) -> dict[str, object]:
    return {"role": message.role, "content": message.content}
