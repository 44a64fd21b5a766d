"""The privacy guard step: what a partner model receives, and what comes back from it.

A partner (`tier = "partner"`) is a third party. Per the tenant's data policy: `local_only`
keeps the tenant's requests off partners altogether (routes skip them; asking for one directly
is a 403); `pseudonymize` replaces personal data in everything sent by typed placeholders
(`[PERSON_1]`), one mapping per request, and puts the values back into the answer, streamed
or not; `allow` sends the request as it is. Every partner call is written to the audit log
with the counts of what was replaced. The operator's own upstreams (`open`, `premium`,
`private` tiers) are inside the trust boundary and never guarded.

The scan runs in a worker thread (the event loop keeps serving) within `privacy.scan_timeout_s`
on at most `privacy.scan_max_chars` characters; a scan that cannot finish refuses the call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
from corral.catalog.catalog import ModelEntry
from corral.errors import PayloadTooLarge, PermissionDenied, PrivacyCheckTimeout
from corral.privacy.audit import AuditLog, PartnerCall
from corral.privacy.detect import DetectionTimeout
from corral.privacy.pseudonymize import Masked, Pseudonymizer, StreamRestorer
from corral.settings import PrivacyConfig
from corral.storage import Database

Record = Callable[[ModelEntry, dict[str, int], str, str], Awaitable[None]]
"""Writes one audit event: the model, the counts masked, what was sent and received."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Whose request it is, as the guard and the audit log need to know."""

    request_id: str
    tenant_id: str | None
    key_id: str
    policy: str
    retention_hours: int | None = None


def forbidden_partner(model: ModelEntry) -> PermissionDenied:
    return PermissionDenied(
        f"'{model.id}' is a partner model (a third party); your organisation's data policy "
        "(local_only) keeps your requests on this platform's own models.",
        param="model",
        code="data_policy_forbids_partner",
    )


class Scanner:
    """Masks a request's texts off the event loop, within the configured size and time."""

    def __init__(self, pseudonymizer: Pseudonymizer, config: PrivacyConfig) -> None:
        self._pseudonymizer = pseudonymizer
        self._config = config

    async def mask(self, texts: list[str], param: str) -> Masked:
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
        work = asyncio.to_thread(self._pseudonymizer.mask, texts, time.monotonic() + timeout)
        try:  # the thread stops itself at the deadline; wait_for bounds a thread that queued
            return await asyncio.wait_for(work, timeout)
        except (DetectionTimeout, TimeoutError):
            raise PrivacyCheckTimeout(
                f"The privacy check of this request did not finish within {timeout:g} s, so it "
                "was not sent to the partner model. Retry, or send less text.",
                headers={"Retry-After": "1"},
            ) from None


class PrivacyGuard:
    def __init__(
        self,
        pseudonymizer: Pseudonymizer,
        audit: AuditLog,
        db: Database,
        config: PrivacyConfig | None = None,
    ) -> None:
        self._scanner = Scanner(pseudonymizer, config or PrivacyConfig())
        self._audit = audit
        self._db = db

    def protect(self, entry: ModelEntry, caller: Caller) -> ModelEntry:
        """The entry as this request must see it: partners behind the guard."""
        if entry.tier != "partner":
            return entry
        if caller.policy == "local_only":
            raise forbidden_partner(entry)
        mask = caller.policy == "pseudonymize"
        record = self._recorder(caller)
        guarded = GuardedBackend(entry, self._scanner if mask else None, record)
        return dataclasses.replace(entry, backend=guarded)

    def _recorder(self, caller: Caller) -> Record:
        async def record(entry: ModelEntry, pii: dict[str, int], sent: str, received: str) -> None:
            call = PartnerCall(
                caller.request_id,
                caller.tenant_id,
                caller.key_id,
                entry.id,
                entry.kind,
                caller.policy,
                pii,
                sent,
                received,
            )
            await self._db.run(self._audit.record, call, caller.retention_hours)

        return record


class GuardedBackend:
    """One request's view of a partner backend (it holds that request's mapping)."""

    def __init__(self, entry: ModelEntry, scanner: Scanner | None, record: Record) -> None:
        self._entry = entry
        self._inner: Backend = entry.backend
        self._scanner = scanner
        self._record = record
        self._masked: tuple[GenerationRequest, Masked | None] | None = None

    async def _mask(self, request: GenerationRequest) -> tuple[GenerationRequest, Masked | None]:
        if self._masked is None:
            masked = None
            if self._scanner is not None:
                masked = await _masked_request(self._scanner, request)
            self._masked = masked or (request, None)
        return self._masked

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        sent, masked = await self._mask(request)
        result = await self._inner.generate(sent)
        restored = _restore_result(result, masked)
        await self._audit(sent, masked, result.text)
        return restored

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        sent, masked = await self._mask(request)
        events = await self._inner.stream(sent)
        return self._restored_stream(sent, masked, events)

    async def _restored_stream(
        self, sent: GenerationRequest, masked: Masked | None, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        mapping = masked.mapping if masked is not None else {}
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
                await self._audit(sent, masked, "".join(received))
            yield event

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        if self._scanner is None:
            result = await self._inner.embed(request)
            await self._record(self._entry, {}, "", "")
            return result
        masked = await self._scanner.mask(request.inputs, "input")
        sent = dataclasses.replace(request, inputs=list(masked.texts))
        result = await self._inner.embed(sent)
        await self._record(self._entry, masked.counts, "\n".join(masked.texts), "")
        return result

    async def count_prompt_tokens(self, request: GenerationRequest) -> int:
        sent, _ = await self._mask(request)
        return await self._inner.count_prompt_tokens(sent)

    def health(self) -> BackendHealth:
        return self._inner.health()

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()

    async def _audit(self, sent: GenerationRequest, masked: Masked | None, received: str) -> None:
        counts = masked.counts if masked is not None else {}
        await self._record(self._entry, counts, _transcript(sent), received)


async def _masked_request(
    scanner: Scanner, request: GenerationRequest
) -> tuple[GenerationRequest, Masked]:
    """Every text the partner would see, masked with one mapping for the whole request."""
    messages = request.messages or ()
    texts = [m.content for m in messages]
    texts += [c.arguments for m in messages for c in m.tool_calls]
    if request.prompt is not None:
        texts.append(request.prompt)
    masked = await scanner.mask(texts, "messages" if request.messages is not None else "prompt")
    out = iter(masked.texts)
    new_messages = tuple(dataclasses.replace(m, content=next(out)) for m in messages)
    new_messages = tuple(
        dataclasses.replace(
            m, tool_calls=tuple(dataclasses.replace(c, arguments=next(out)) for c in m.tool_calls)
        )
        for m in new_messages
    )
    prompt = next(out) if request.prompt is not None else None
    sent = dataclasses.replace(
        request, messages=new_messages if request.messages is not None else None, prompt=prompt
    )
    return sent, masked


def _restore_result(result: GenerationResult, masked: Masked | None) -> GenerationResult:
    if masked is None:
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
